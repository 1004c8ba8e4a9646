"""`python -m app` is the `pairdesk` command."""

from app.cli import main

raise SystemExit(main())
