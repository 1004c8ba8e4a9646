"""Optional persistence of the simulator's linked devices (`SandboxOptions.state_file`).

The real WhatsApp servers remember which devices a phone linked; a simulator
that forgets them on restart makes every saved login ask for a QR again after
`make run` is started a second time. With a state file the world writes its
linked devices (and each phone's next device number) whenever they change, and
reads them back at start. Pages, refs and counters are not kept: they belong
to one run.

The write is atomic (temp file, fsync, rename) and the file is readable by its
owner only (it holds the identity keys that let a saved login in). A file that
cannot be read is reported and set aside as `<name>.unreadable`, and the
simulator starts with no linked devices: the operator scans again, nothing
else breaks.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.sandbox._model import Device

_log = logging.getLogger(__name__)
FORMAT = 1


@dataclass
class SavedDevices:
    """What a state file holds: the linked devices and each phone's next device id."""

    devices: dict[str, Device] = field(default_factory=dict)  # account -> device
    next_device: dict[str, int] = field(default_factory=dict)  # phone -> next device id


def save_devices(path: Path, saved: SavedDevices) -> None:
    """Write `saved` to `path` atomically, mode 0600 (folders made 0700)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    body = {
        "format": FORMAT,
        "devices": [
            {
                "phone": d.phone,
                "device_id": d.device_id,
                "identity": d.identity,
                "lid": d.lid,
                "linked_at": d.linked_at,
            }
            for d in saved.devices.values()
        ],
        "next_device": saved.next_device,
    }
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(body, handle, separators=(",", ":"))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def load_devices(path: Path) -> SavedDevices:
    """The devices saved at `path`; empty when there is no file or it is unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return SavedDevices()
    except OSError as exc:
        _log.warning("sandbox: cannot read %s (%s); starting with no linked devices", path, exc)
        return SavedDevices()
    try:
        return _parse(json.loads(text))
    except (ValueError, TypeError, KeyError) as exc:
        aside = path.with_name(path.name + ".unreadable")
        with contextlib.suppress(OSError):
            os.replace(path, aside)
        _log.warning(
            "sandbox: %s is not a valid state file (%s); it was moved to %s and the "
            "simulator starts with no linked devices, so saved logins need a new QR",
            path,
            exc,
            aside.name,
        )
        return SavedDevices()


def _parse(data: Any) -> SavedDevices:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"expected a JSON object with format {FORMAT}")
    saved = SavedDevices()
    for item in data["devices"]:
        device = Device(
            phone=_text(item["phone"]),
            device_id=int(item["device_id"]),
            identity=_text(item["identity"]),
            lid=_text(item["lid"]),
            linked_at=float(item["linked_at"]),
        )
        saved.devices[device.account] = device
    for phone, next_id in dict(data["next_device"]).items():
        saved.next_device[_text(phone)] = int(next_id)
    return saved


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > 256:
        raise ValueError(f"expected a short non-empty string, got {value!r}")
    return value
