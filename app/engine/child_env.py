"""The environment the Playwright driver and Chromium get: no credentials in it.

Chromium runs without its sandbox and renders pages from the internet; its
environment (and the driver's, which Chromium inherits) is readable by anything
that takes over a renderer's parent, and ends up in crash reports. The instance
already removes its own `PAIRDESK_*` settings from its environment; this also
keeps out what the process holds for others: the AWS variables boto3 reads for
S3 snapshots, PostgreSQL's, other clouds', systemd's credentials folder, and any
variable whose name says it is a secret.
"""

from __future__ import annotations

from collections.abc import Mapping

#: Variables starting with one of these never reach a browser.
CREDENTIAL_PREFIXES: tuple[str, ...] = (
    "PAIRDESK_",
    "AWS_",
    "PG",  # PGPASSWORD, PGPASSFILE, PGSERVICEFILE, PGSSLKEY, ...
    "AZURE_",
    "GOOGLE_",
    "GCLOUD_",
    "CLOUDSDK_",
    "BOTO_",
    "MINIO_",
)
#: Nor do variables whose name contains one of these.
CREDENTIAL_MARKERS: tuple[str, ...] = (
    "SECRET",
    "TOKEN",
    "PASSWORD",
    "PASSWD",
    "CREDENTIAL",  # also systemd's CREDENTIALS_DIRECTORY (the fleet key's folder)
    "API_KEY",
    "ACCESS_KEY",
    "PRIVATE_KEY",
    "DATABASE_URL",
    "SSH_AUTH_SOCK",
)


def is_credential(name: str) -> bool:
    upper = name.upper()
    return upper.startswith(CREDENTIAL_PREFIXES) or any(m in upper for m in CREDENTIAL_MARKERS)


def browser_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` without the variables `is_credential` names."""
    return {name: value for name, value in environ.items() if not is_credential(name)}
