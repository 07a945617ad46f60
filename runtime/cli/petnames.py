"""Petnames: this person's private names for members, in ``petnames.json`` in the data directory.

They never leave the node (no block, no message carries them), so they are stored beside the
key file, readable by the node's user only (mode 0600), and written atomically (a crash leaves
the old file or the new one).  The CLI reads them itself: a petname works with the node stopped.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Final

from peoplenet.runtime.cli.names import check_petname
from peoplenet.runtime.errors import LocalError
from peoplenet.runtime.keys.identity import ID_LEN
from peoplenet.runtime.lace.store import disk_full, is_disk_full

FILE_NAME: Final = "petnames.json"
VERSION: Final = 1


class PetnameFileError(LocalError):
    """The petname file exists but cannot be read as one (left untouched)."""

    reason = "petname_file_unusable"


def petnames_path(data_root: Path) -> Path:
    return data_root / FILE_NAME


def load(data_root: Path) -> dict[str, bytes]:
    """The petnames saved in ``data_root`` (none when there is no file yet)."""
    path = petnames_path(data_root)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise PetnameFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        doc = json.loads(text)
        if not isinstance(doc, dict) or doc.get("version") != VERSION:
            raise ValueError("not a version 1 petname file")
        names = doc.get("names")
        if not isinstance(names, dict):
            raise ValueError("no names map")
        out: dict[str, bytes] = {}
        for name, hex_id in names.items():
            member = bytes.fromhex(hex_id) if isinstance(hex_id, str) else b""
            if len(member) != ID_LEN:
                raise ValueError(f"{name!r} does not name a 64-hex member id")
            out[check_petname(name)] = member
    except (ValueError, LocalError) as exc:
        raise PetnameFileError(f"{path} is damaged: {exc}; fix or remove it") from None
    return out


def save(data_root: Path, petnames: dict[str, bytes]) -> None:
    """Replace the petname file (mode 0600, atomically)."""
    path = petnames_path(data_root)
    doc = {"version": VERSION, "names": {n: m.hex() for n, m in sorted(petnames.items())}}
    tmp = path.with_name(f".{FILE_NAME}.tmp")
    try:
        _write(path, tmp, doc)
    except OSError as exc:
        if is_disk_full(exc):
            raise disk_full(path, exc) from exc
        raise PetnameFileError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _write(path: Path, tmp: Path, doc: dict[str, object]) -> None:
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(doc, handle, indent=1, sort_keys=True, ensure_ascii=False)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
