"""Runs in the console process (or `pairdesk serve`): the `Engine` the console drives.

`engine.SupervisedEngine` keeps the live view of every session
(`live_view`), places sessions on instances (`placement`), fans events out to
subscribers (`fanout`), reads the store (`store`) and publishes the sync
indicator (`sync_monitor`). It reaches instances only through `supervisor/`.
"""
