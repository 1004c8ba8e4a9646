"""The desktop bundle's entry point: `pairdesk` with every subcommand, as the wheel's script.

One thing more than `app.cli.main`: the bundle's executable must also stand in
for `python -IS script`. The engine starts Playwright's Node.js driver through
a small Python wrapper script that asks the kernel to kill it with its
instance (app/engine/browser/launch.py, `deathsig_wrapper`); that script's
first line names `sys.executable`, which in the bundle is this program. So
`pairdesk -IS SCRIPT ARGS...` runs SCRIPT as Python with ARGS, as the
interpreter would. The script is pairdesk's own (written 0700 in a 0700
folder the user owns), and it runs with this user's rights, as `python` would.
"""

from __future__ import annotations

import runpy
import sys


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == "-IS":
        script = sys.argv[2]
        sys.argv = sys.argv[2:]
        runpy.run_path(script, run_name="__main__")
        return 0
    from app.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    raise SystemExit(main())
