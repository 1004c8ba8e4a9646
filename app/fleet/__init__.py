"""Fleet mode (docs/FLEET.md): many `pairdesk instance` members coordinated only
through PostgreSQL leases with fencing; consoles attach and never own sessions.

`leases` is the authority (claim, renew, release, fence); `member` runs one
member on top of the ordinary instance; `watchdog` closes a member's Chromium
at its local lease deadline even when the member's Python is frozen;
`snapshots` keeps login snapshots in shared storage.
"""
