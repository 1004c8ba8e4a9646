"""Runs in the instance process and drives Chromium.

`launch.ChromiumLauncher` starts Chromium (tied to the instance's life);
`whatsapp_web.WhatsAppWebPage` is the page adapter for WhatsApp Web or the
sandbox, with the in-page script in `js/`; `signals` are the facts a page
reports to its owner.
"""
