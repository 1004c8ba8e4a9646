"""The scripted demo: `DemoEngine` (`engine`) and its canned data (`data`).

An in-memory `app.engine.api.Engine` for demos and screenshots, with no
Chromium, database or network; everything it shows is invented. No Qt.
"""
