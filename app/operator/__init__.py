"""What an operator sees and does, without Qt: display words, onboarding runs,
the diagnostics bundle; shared by the console (`app/ui`) and the command line
(`app/cli`).

`text` has the words and number formats every screen uses, `onboarding` the
model of one onboarding batch (queue, warm-up, results), `bundle` the zip for
a support ticket. Nothing here imports Qt, the engine's rooms, the store, the
sync client or the sandbox: only `app.domain`, `app.config` and
`app.engine.api`.
"""
