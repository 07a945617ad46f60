"""A node's data directory: key file, settings, SQLite files, lock and control socket.

Layout (created by ``peoplenet init``)::

    DATA/identity.key      argon2id + secretbox key file (runtime/keys/keyfile.py)
    DATA/config.json       NodeSettings below, written once, edited by hand if needed
    DATA/blocks.sqlite     the blocklace
    DATA/evidence.sqlite   friend requests received before friendship
    DATA/node.lock         held (flock) while a node runs; holds its PID; every process
                           of the node keeps it open (runtime/local/procs.py finds them so)
    DATA/node.pids         the running node's foreground PID and actors' process group
    DATA/control.sock      the running node's local control socket (mode 0600)
    DATA/logs/             thespian's own log
    DATA/petnames.json     the member's petnames for other members
    DATA/communities/      joined communities: <lace>.genesis (the joined file),
                           <lace>.sqlite (epoch blocklace), <lace>.order.sqlite (the order),
                           for a cooperative also <lace>.founding and <lace>.name

Everything in it is the member's alone: directories 0700, files 0600 (runtime/local/file_modes.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from peoplenet.runtime.errors import LocalError
from peoplenet.runtime.lace.store import disk_full, is_disk_full
from peoplenet.runtime.local.file_modes import DIR_MODE, FILE_MODE, make_private

SETTINGS_VERSION = 1
DEFAULT_NETWORK = "peoplenet-dev"
DEFAULT_PORT = 7700


class DataDirError(LocalError):
    """The data directory is missing, unreadable, locked or holds bad settings."""

    reason = "data_dir_unusable"


@dataclass(frozen=True)
class NodeSettings:
    """What a node needs besides its key; stored as ``config.json``."""

    network: str = DEFAULT_NETWORK
    listen_host: str = "0.0.0.0"  # noqa: S104 - the peer transport is the one public listener
    listen_port: int = DEFAULT_PORT
    advertise_host: str = "127.0.0.1"
    mdns: bool = True
    mdns_interfaces: tuple[str, ...] = ("127.0.0.1",)
    peers: tuple[str, ...] = ()
    auto_accept: bool = False

    @property
    def network_id(self) -> bytes:
        return b"peoplenet/" + self.network.encode()

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["version"] = SETTINGS_VERSION
        out["mdns_interfaces"] = list(self.mdns_interfaces)
        out["peers"] = list(self.peers)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NodeSettings:
        if data.get("version") != SETTINGS_VERSION:
            raise DataDirError(f"config.json: unsupported version {data.get('version')!r}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known - {"version"}
        if unknown:
            raise DataDirError(f"config.json: unknown settings {sorted(unknown)}")
        values = {k: v for k, v in data.items() if k in known}
        for key in ("mdns_interfaces", "peers"):
            if key in values:
                values[key] = tuple(values[key])
        settings = cls(**values)
        if not 0 <= settings.listen_port <= 65535:
            raise DataDirError(f"config.json: listen_port {settings.listen_port} out of range")
        if not 1 <= len(settings.network_id) <= 64:
            raise DataDirError("config.json: network name must be 1-54 bytes")
        return settings


class DataDir:
    """Paths and settings of one node's directory."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    @property
    def key_file(self) -> Path:
        return self.root / "identity.key"

    @property
    def config_file(self) -> Path:
        return self.root / "config.json"

    @property
    def blocks_db(self) -> Path:
        return self.root / "blocks.sqlite"

    @property
    def evidence_db(self) -> Path:
        return self.root / "evidence.sqlite"

    @property
    def lock_file(self) -> Path:
        return self.root / "node.lock"

    @property
    def pids_file(self) -> Path:
        return self.root / "node.pids"

    @property
    def control_socket(self) -> Path:
        return self.root / "control.sock"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def communities(self) -> Path:
        return self.root / "communities"

    def save_genesis(self, lace_hex: str, raw: bytes) -> bool:
        """Remember a joined community (atomically, synced); False if it was joined already."""
        path = self.communities / f"{lace_hex}.genesis"
        if path.exists():
            return False
        self.save_community_file(lace_hex, "genesis", raw)
        return True

    def save_community_file(self, lace_hex: str, suffix: str, raw: bytes) -> None:
        """Write ``<lace>.<suffix>`` atomically and synced (sidecars go before the genesis)."""
        path = self.communities / f"{lace_hex}.{suffix}"
        tmp = path.with_suffix(".tmp")
        try:
            self.communities.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
            with os.fdopen(fd, "wb") as handle:
                handle.write(raw)
                handle.flush()
                os.fsync(handle.fileno())
            tmp.replace(path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            if is_disk_full(exc):
                raise disk_full(path, exc) from exc
            raise DataDirError(f"cannot write {path}: {exc.strerror or exc}") from exc

    def community_file(self, lace_hex: str, suffix: str) -> bytes | None:
        path = self.communities / f"{lace_hex}.{suffix}"
        return path.read_bytes() if path.is_file() else None

    def joined_geneses(self) -> list[bytes]:
        """The genesis files of every joined community, in a stable order."""
        return [p.read_bytes() for p in self.genesis_files()]

    def genesis_files(self) -> list[Path]:
        """The paths of every joined community's genesis file, in a stable order."""
        if not self.communities.is_dir():
            return []
        return sorted(self.communities.glob("*.genesis"))

    def exists(self) -> bool:
        return self.config_file.is_file() and self.key_file.is_file()

    def require(self) -> None:
        if not self.root.is_dir():
            raise DataDirError(
                f"no data directory at {self.root}: run `peoplenet init --data {self.root}`"
            )
        if not self.exists():
            raise DataDirError(
                f"{self.root} is not a peoplenet data directory (no config.json or identity.key):"
                f" run `peoplenet init --data {self.root}`"
            )

    def create(self, settings: NodeSettings) -> list[str]:
        """Create the directory (0700) and ``config.json`` (0600); the permission fixes made.

        A directory that exists already is kept but made private (see :meth:`make_private`).
        """
        self.root.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        fixes = self.make_private()
        self.logs.mkdir(exist_ok=True, mode=DIR_MODE)
        if self.config_file.exists():
            raise DataDirError(f"{self.config_file} already exists")
        tmp = self.config_file.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(settings.to_json(), indent=2, sort_keys=True) + "\n")
        tmp.replace(self.config_file)
        return fixes

    def make_private(self) -> list[str]:
        """Remove group/other permission bits in the directory; one line per fix made.

        Raises :class:`~peoplenet.runtime.local.file_modes.NotPrivate` if anything in it is another
        user's.
        """
        return make_private(self.root)

    def settings(self) -> NodeSettings:
        self.require()
        try:
            data = json.loads(self.config_file.read_text())
        except (OSError, ValueError) as exc:
            raise DataDirError(f"cannot read {self.config_file}: {exc}") from exc
        if not isinstance(data, dict):
            raise DataDirError(f"{self.config_file}: expected a JSON object")
        return NodeSettings.from_json(data)

    def lock(self) -> NodeLock:
        return NodeLock(self.lock_file)


class NodeLock:
    """An exclusive flock: one running node per data directory; released by the kernel on death."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            handle.close()
            raise DataDirError(
                f"a node is already running from {self.path.parent} (pid {holder})"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def holder(self) -> int | None:
        """The PID of the running node, or None if no node holds the lock."""
        if not self.path.exists():
            return None
        with self.path.open("a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                text = handle.read().strip()
                return int(text) if text.isdigit() else -1
            fcntl.flock(handle, fcntl.LOCK_UN)
            return None
