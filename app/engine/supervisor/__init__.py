"""Runs in the console process: the instance processes, seen from outside.

`supervisor.Supervisor` starts `instances` processes (`process`, with the
command line from `launcher`), watches their health, samples their process
trees and relays their event streams; `client.InstanceClient` is the only
caller of an instance's HTTP API. Nothing here imports the instance's code:
the two sides share only `app/engine/wire.py`.
"""
