"""`pairdesk sandbox`: the WhatsApp Web login simulator with its test phone,
and with `--central` the reference central API on the same port.

Prints `sandbox: http://HOST:PORT/` (and `central: ...`) on stdout once it
listens, then how to use it, and runs until Ctrl+C or SIGTERM.
"""

from __future__ import annotations

import argparse
from typing import Any

from app.cli import UserError, load_settings

CENTRAL_PREFIXES = ("/api/whatsapp", "/central")


# Spelled out (not imported) so building the CLI parser stays cheap; the
# options validate them again.
FLAVOURS = ("full", "dom", "pixels")
PAGE_WEIGHTS = ("light", "real")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=None, help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="TCP port (default: a free one)")
    parser.add_argument(
        "--time-scale",
        dest="time_scale",
        default=None,
        help="multiply every login timing by this (e.g. 0.05 for fast tests; default 1)",
    )
    parser.add_argument(
        "--boot-delay",
        dest="boot_delay",
        default=None,
        help="seconds before the page's window.Debug.VERSION appears (default 0.3, not scaled)",
    )
    parser.add_argument("--flavour", choices=FLAVOURS, default="full", help="page surface")
    parser.add_argument(
        "--page-weight",
        dest="page_weight",
        choices=PAGE_WEIGHTS,
        default="light",
        help="what a linked page costs: light (the login page alone) or real (docs/SANDBOX.md)",
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--central", action="store_true", help="also serve the reference central API"
    )
    group.add_argument(
        "--central-only", action="store_true", help="serve only the reference central API"
    )


def run(args: argparse.Namespace) -> int:
    from app.sandbox import SandboxOptions, create_simulator_app
    from app.serving import serve_forever

    settings = load_settings(args, time_scale=args.time_scale, sandbox_boot_delay=args.boot_delay)
    host = args.host or settings.host
    if not 0 <= args.port <= 65535:
        raise UserError(f"--port: expected 0 (any free port) to 65535, got {args.port}")
    options = SandboxOptions(
        time_scale=settings.time_scale,
        boot_delay=settings.sandbox_boot_delay,
        flavour=args.flavour,
        page_weight=args.page_weight,
    )
    simulator = None if args.central_only else create_simulator_app(options)
    central = _central_app(settings) if args.central or args.central_only else None
    app: Any
    if simulator is not None and central is not None:
        from app.sandbox._combined import PathDispatch

        app = PathDispatch(simulator, central, CENTRAL_PREFIXES)
    else:
        app = simulator or central

    def ready(url: str) -> None:
        if simulator is not None:
            print(f"sandbox: {url}", flush=True)
        if central is not None:
            print(f"central: {url}", flush=True)
        print(_instructions(url, simulator is not None, central is not None), flush=True)

    try:
        serve_forever(app, host, args.port, on_ready=ready)
    except OSError as exc:
        raise UserError(str(exc)) from None
    return 0


def _central_app(settings: Any) -> Any:
    try:
        from app.sandbox.central import create_central_app
    except ImportError as exc:
        raise UserError(f"the reference central API is not available ({exc})") from None
    secret = settings.resolved_webhook_secret()
    if not secret:
        raise UserError("--central needs a webhook secret: set webhook_secret or unset central_url")
    return create_central_app(secret)


def _instructions(url: str, simulator: bool, central: bool) -> str:
    lines = []
    if simulator:
        lines += [
            f"  Open {url} in a browser to see a login QR.",
            "  Scan it with the test phone: list the open pages and their QR text with",
            f"    curl -s {url}sandbox/pages",
            "  then link one (any E.164 digits as the phone):",
            f"    curl -s -X POST {url}phone/scan -H 'content-type: application/json' \\",
            '      -d \'{"qr": "<QR text>", "phone": "6281234567890"}\'',
            f"  Oracle: curl -s {url}sandbox/stats   Faults: POST/DELETE {url}sandbox/faults",
        ]
    if central:
        lines.append(
            f"  Central API: webhooks to {url}api/whatsapp/webhooks/webjs, "
            f"log at {url}central/events"
        )
    lines.append("  Ctrl+C stops. docs/SANDBOX.md has the details.")
    return "\n".join(lines)
