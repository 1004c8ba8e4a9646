"""Runs in the instance process: the sessions of one Chromium, one account each.

`host.SessionHost` owns the browser (through `browser/`), the warm pool of
booted login pages (`warm_pool`) and every `flow.Session`: a worker
(`worker`) that applies the session's rules (`flow`) to page signals and
operator commands one at a time. `folder` keeps each session's login on disk;
`health` times heartbeats and recovery.
"""
