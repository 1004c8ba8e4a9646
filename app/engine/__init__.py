"""The engine: everything below the console that links and watches sessions. No Qt.

Each folder is one room and names the process its code runs in:

- `api.py`: the console's only door (the `Engine` Protocol and the values it
  hands out). `errors.py`, `doctor.py`, `chromium.py` and `wire.py` are
  shared by every room and every process.
- `control/`: runs in the console (or `pairdesk serve`): the `Engine` the
  console drives, the live view of every session, placement, event fan-out,
  the sync indicator.
- `supervisor/`: runs in the console too: starts, watches and stops the
  instance processes and talks to them over HTTP.
- `instance/`: runs in each `pairdesk instance` process: its HTTP API, the
  session operations, the event recorder (store + outbox), load and metrics.
- `session/`: runs in the instance process: one account's session (worker,
  rules), its folder on disk, the warm pool, health timing, and the host that
  owns them all.
- `browser/`: runs in the instance process and drives Chromium: launching it,
  the `whatsapp_web` page adapter (with its injected `js/`), page signals.

Imports run downwards only: control -> supervisor; instance -> session ->
browser; every room may use the shared modules. Nothing outside `app/engine`
imports a room (the composition root `app/bootstrap.py` excepted); see
docs/ARCHITECTURE.md.
"""
