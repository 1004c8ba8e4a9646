"""Runs in each `pairdesk instance` process: one shard worker.

`runner.run_instance` wires the process: the store (`store`, with the event
recorder), the session host (`session/`), the HTTP API (`http_api`) and
webhook delivery. `instance.Instance` owns the lifecycle, `sessions` the
operations the API offers, `hub` the live event stream, `load` the process
tree's load and `/metrics`.
"""
