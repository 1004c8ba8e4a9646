"""Snapshots in S3-compatible object storage (`snapshot_store = "s3://bucket/prefix"`).

boto3 reads the endpoint, credentials and region the standard AWS way
(`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
`AWS_DEFAULT_REGION`, `~/.aws/config`, instance roles), so pairdesk holds no
S3 secret of its own. Each snapshot is a new object,
`{prefix}/{session_id}/{epoch:012d}-{sha256}`; the pointer row in the fleet
database moves to it only under the epoch check, then the object it replaced
is deleted. An upload by a fenced member is deleted again and never pointed at.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlparse

from sqlalchemy import select

from app.fleet.leases import LeaseStore, StaleEpoch
from app.fleet.snapshots import SnapshotCipher, digest, write_pointer
from app.store.fleet_models import SessionSnapshot

log = logging.getLogger(__name__)


def parse_location(url: str) -> tuple[str, str]:
    """(bucket, prefix) of an `s3://bucket/prefix` URL."""
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"{url!r} is not an s3://bucket/prefix URL")
    return parsed.netloc, parsed.path.strip("/")


class S3Snapshots:
    def __init__(
        self,
        client: Any,
        bucket: str,
        prefix: str,
        leases: LeaseStore,
        *,
        cipher: SnapshotCipher,
    ) -> None:
        self._s3 = client
        self._bucket = bucket
        self._prefix = prefix
        self._leases = leases
        self._cipher = cipher

    @classmethod
    def from_url(cls, url: str, leases: LeaseStore, *, cipher: SnapshotCipher) -> S3Snapshots:
        import boto3

        bucket, prefix = parse_location(url)
        return cls(boto3.client("s3"), bucket, prefix, leases, cipher=cipher)

    def _key(self, session_id: str, epoch: int, sha: str) -> str:
        name = f"{session_id}/{epoch:012d}-{sha}"
        return f"{self._prefix}/{name}" if self._prefix else name

    def put(self, session_id: str, owner: str, epoch: int, data: bytes) -> None:
        sealed = self._cipher.seal(data, session_id=session_id)
        sha = digest(data)
        key = self._key(session_id, epoch, sha)
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=sealed)
        location = f"s3://{self._bucket}/{key}"
        try:
            with self._leases.sessions.begin() as session:
                LeaseStore.fence(session, session_id, owner, epoch)
                previous = session.scalar(
                    select(SessionSnapshot.location).where(SessionSnapshot.session_id == session_id)
                )
                write_pointer(
                    session,
                    session_id=session_id,
                    epoch=epoch,
                    location=location,
                    data=None,
                    size=len(sealed),
                    sha256=sha,
                )
        except StaleEpoch:
            self._delete(key)
            raise
        if previous and previous != location and previous.startswith(f"s3://{self._bucket}/"):
            self._delete(previous.removeprefix(f"s3://{self._bucket}/"))

    def get(self, session_id: str) -> bytes | None:
        with self._leases.sessions() as session:
            location = session.scalar(
                select(SessionSnapshot.location).where(SessionSnapshot.session_id == session_id)
            )
        if not location or not location.startswith("s3://"):
            return None
        bucket, key = parse_location(location)
        body = self._s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return self._cipher.open(bytes(body), session_id=session_id)

    def _delete(self, key: str) -> None:
        try:
            self._s3.delete_object(Bucket=self._bucket, Key=key)
        except Exception as exc:  # a leftover object is harmless: nothing points at it
            log.warning("could not delete s3://%s/%s: %s", self._bucket, key, exc)
