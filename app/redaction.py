"""URLs as they may be shown: without the credentials some of them carry.

`central_url` may be `https://user:password@platform/` (HTTP basic auth in
front of the platform) and `database_url` `postgresql://user:password@host/db`.
Wherever a URL is printed (sync status, sync test, doctor, logs, the
diagnostics bundle) it goes through `redact_url`: the password (or a user
part alone, which is often a token) becomes `***`, and so do the values of
query parameters whose name says they hold a secret (`?token=...`,
`?api_key=...`).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_SECRET_PARAM = re.compile(r"token|key|secret|pass|pwd|sig|auth|cred", re.IGNORECASE)
HIDDEN = "***"


def redact_url(url: str) -> str:
    """`url` with its password (or a lone user part, often a token) and secret-looking
    query values replaced by `***`; anything else, and a URL without them, unchanged."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:  # not a URL we can take apart: show nothing of it that could be secret
        return HIDDEN if "@" in url else url
    netloc, query = parts.netloc, parts.query
    if "@" in netloc:
        user = f"{parts.username}:{HIDDEN}" if parts.password is not None else HIDDEN
        shown_host = f"[{host}]" if ":" in host else host
        netloc = f"{user}@{shown_host}" + (f":{port}" if port is not None else "")
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_SECRET_PARAM.search(k) for k, _ in pairs):
            hidden = [(k, HIDDEN if _SECRET_PARAM.search(k) else v) for k, v in pairs]
            query = urlencode(hidden, safe="*")
    if (netloc, query) == (parts.netloc, parts.query):
        return url  # untouched, byte for byte (sqlite:////abs/path keeps its slashes)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
