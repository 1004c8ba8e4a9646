"""`pairdesk fleet`: look at and steer a fleet through its database (docs/FLEET.md).

    pairdesk fleet status [--json]     members (lease health) and sessions (owner, epoch,
                                       lease, state as the fleet knows it, QR)
    pairdesk fleet add --workspace W   a new account, placed by the fleet; prints its id
    pairdesk fleet drain NAME          move a member's sessions away (--off to undo)
    pairdesk fleet remove SESSION_ID   log the account out at its owner, then delete it
    pairdesk fleet keygen FILE         a fresh fleet snapshot key, mode 0600 (fleet_key_file)

The fleet is `--fleet URL`, else the `fleet_database_url` setting. Calls to
members use the `instance_token` setting (the token every member shares).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx

from app.cli import UserError, load_settings
from app.config import Settings

if TYPE_CHECKING:
    from app.fleet.leases import LeaseStore

PLACE_WAIT = 30.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="fleet_command", metavar="ACTION", required=True)
    status = sub.add_parser("status", help="members and sessions of the fleet")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    add = sub.add_parser("add", help="create an account; the fleet places and starts it")
    add.add_argument("--workspace", type=int, required=True)
    add.add_argument("--label", default="")
    add.add_argument("--phone", default="")
    add.add_argument("--json", action="store_true")
    drain = sub.add_parser("drain", help="move every session of a member away")
    drain.add_argument("name")
    drain.add_argument("--off", action="store_true", help="let the member take sessions again")
    remove = sub.add_parser("remove", help="log an account out and delete it")
    remove.add_argument("session_id")
    keygen = sub.add_parser("keygen", help="write a fresh fleet snapshot key (mode 0600)")
    keygen.add_argument("file", help="where to write it; never overwritten")


def _leases(settings: Settings) -> LeaseStore:
    from app.fleet.leases import LeaseStore
    from app.store import create_engine_for, upgrade

    target = settings.fleet_database_url
    if not target:
        raise UserError(
            "no fleet: set fleet_database_url (or pass --fleet postgresql://...) to the "
            "fleet's PostgreSQL database"
        )
    engine = create_engine_for(target)
    upgrade(engine)
    try:
        return LeaseStore(engine, ttl=settings.lease_ttl, grace=settings.lease_grace)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _client(settings: Settings) -> httpx.Client:
    token = settings.instance_token
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(timeout=30, headers=headers)


def _keygen(args: argparse.Namespace) -> int:
    from pathlib import Path

    from app.fleet.fleet_key import FleetKeyError, write_fleet_key

    path = Path(args.file).expanduser()
    try:
        write_fleet_key(path)
    except FleetKeyError as exc:
        raise UserError(str(exc)) from None
    print(
        f"fleet key written to {path} (mode 0600): give every member this same file "
        "as fleet_key_file, and back it up: without it no saved login restores"
    )
    return 0


def run(args: argparse.Namespace) -> int:
    from app.store.errors import StoreError

    if args.fleet_command == "keygen":  # needs no fleet database
        return _keygen(args)
    settings = load_settings(args)
    try:
        leases = _leases(settings)
        action = {"status": _status, "add": _add, "drain": _drain, "remove": _remove}
        return action[args.fleet_command](args, settings, leases)
    except StoreError as exc:
        raise UserError(str(exc)) from None


def _status(args: argparse.Namespace, settings: Settings, leases: LeaseStore) -> int:
    from app.fleet.status import read_status, with_qrs

    status = with_qrs(read_status(leases), settings.instance_token)
    data = status.as_json()
    if args.json:
        json.dump(data, sys.stdout, indent=2)
        print()
        return 0
    print(f"{'member':<20} {'alive':<6} {'sessions':>8} {'load':>6}  {'leases':<34} url")
    for m in data["members"]:
        alive = ("yes" if m["alive"] else "no") + ("*" if m["draining"] else "")
        load = f"{m['load']:.0%}"
        print(
            f"{m['name']:<20} {alive:<6} {m['sessions']:>8} {load:>6}  "
            f"{_member_leases(m['leases']):<34} {m['url']}"
        )
    print(
        f"\n{'session':<40} {'ws':>6} {'owner':<16} {'epoch':>5} {'lease':<14} "
        f"{'state':<16} {'qrs':>3}"
    )
    for s in data["sessions"]:
        owner = s["owner"] or "-"
        line = (
            f"{s['session_id']:<40} {s['workspace_id']:>6} {owner:<16} {s['epoch']:>5} "
            f"{_session_lease(s['lease']):<14} {s['state']:<16} {s['qr_count']:>3}"
        )
        print(line + (f"  qr={s['qr']}" if s["qr"] else ""))
        if s["detail"]:
            print(f"    {s['reason']}: {s['detail']}")
    print("\n(* draining)" if any(m["draining"] for m in data["members"]) else "", end="")
    return 0


def _member_leases(leases: dict[str, Any]) -> str:
    """'12 held, renewed 3s ago, 2 expired'."""
    text = f"{leases['held']} held"
    if leases["oldest_renewal_seconds"] is not None:
        text += f", renewed {leases['oldest_renewal_seconds']:.0f}s ago"
    return text + (f", {leases['expired']} expired" if leases["expired"] else "")


def _session_lease(lease: dict[str, Any] | None) -> str:
    """'held', 'expired 12s', 'unowned 3s'."""
    if not lease:
        return "-"
    since = lease["seconds_since_expiry"]
    return str(lease["health"]) + (f" {since:.0f}s" if since is not None else "")


def _owner(leases: LeaseStore, session_id: str) -> tuple[str | None, str]:
    from app.fleet.status import read_status

    status = read_status(leases)
    row = next((s for s in status.sessions if s.session_id == session_id), None)
    if row is None or row.owner is None:
        return None, ""
    url = next((m.advertise_url for m in status.members if m.name == row.owner), "")
    return row.owner, url


def _add(args: argparse.Namespace, settings: Settings, leases: LeaseStore) -> int:
    from app.domain.ids import InvalidIdentifier
    from app.domain.models import AccountSpec
    from app.store import accounts

    spec = AccountSpec(workspace_id=args.workspace, label=args.label, phone_number=args.phone)
    try:
        with leases.sessions.begin() as session:
            info = accounts.create_account(session, spec, now=datetime.now(UTC))
    except (InvalidIdentifier, ValueError) as exc:
        raise UserError(f"cannot add the account: {exc}") from None
    sid = info.session_id
    leases.ensure_rows()
    owner, url = None, ""
    end = time.monotonic() + PLACE_WAIT
    while owner is None and time.monotonic() < end:
        owner, url = _owner(leases, sid)
        if owner is None:
            time.sleep(0.5)
    started = False
    if owner is not None:
        with _client(settings) as client:
            try:
                r = client.post(f"{url.rstrip('/')}/api/sessions/{sid}/start")
                started = r.status_code == 200
            except httpx.HTTPError:
                started = False
    if args.json:
        print(json.dumps({"session_id": sid, "owner": owner, "started": started}))
    else:
        print(sid)
        if owner is None:
            print(
                f"not placed yet: no member took it within {PLACE_WAIT:.0f} s (none alive, or "
                "all full); it is placed as soon as one has room. See `pairdesk fleet status`.",
                file=sys.stderr,
            )
        elif not started:
            print(
                f"placed on {owner} but not started (its API at {url} did not accept the "
                "start; check instance_token); start it from a console",
                file=sys.stderr,
            )
    return 0


def _drain(args: argparse.Namespace, settings: Settings, leases: LeaseStore) -> int:
    if not leases.set_draining(args.name, not args.off):
        raise UserError(f"no member named {args.name!r}; see `pairdesk fleet status`")
    if args.off:
        print(f"{args.name} takes sessions again")
    else:
        print(
            f"{args.name} is draining: it hands its sessions over a few at a time "
            "(`pairdesk fleet status` shows its count falling to 0)"
        )
    return 0


def _remove(args: argparse.Namespace, settings: Settings, leases: LeaseStore) -> int:
    from app.store import accounts

    sid = args.session_id
    owner, url = _owner(leases, sid)
    if owner is not None:
        with _client(settings) as client:
            try:
                client.post(f"{url.rstrip('/')}/api/sessions/{sid}/logout")
            except httpx.HTTPError as exc:
                print(f"could not log out at {owner} ({exc}); deleting anyway", file=sys.stderr)
    with leases.sessions.begin() as session:
        deleted = accounts.delete_account(session, sid)
    if not deleted:
        raise UserError(f"no account {sid!r} in the fleet")
    print(f"removed {sid}" + (f" (logged out at {owner})" if owner else ""))
    return 0
