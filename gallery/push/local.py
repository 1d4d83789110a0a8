"""One machine: Unix datagram sockets in a folder.

Each web process binds one socket in the folder; announcing sends the newest event id to every
socket there, and removes the files of processes that are gone (a send to them is refused). The
kernel delivers at once, so a tile shows the moment it is stored, with nothing polling. A socket
whose queue is full is skipped: its process has wake-ups waiting already, and each one makes it
read everything new.

The folder is DATA_DIR/push/<database>, so that studios (or test runs) on other databases, on
the same machine, never wake each other."""

import asyncio
import contextlib
import hashlib
import logging
import os
import secrets
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import connection

logger = logging.getLogger(__name__)

# sockaddr_un holds 108 bytes; leave room for the file name.
MAX_FOLDER_CHARS = 80


class LocalBackend:
    def __init__(self, *, folder: Path):
        self.folder = folder

    @classmethod
    def for_database(cls) -> "LocalBackend":
        name = str(connection.settings_dict["NAME"])
        digest = hashlib.blake2b(name.encode(), digest_size=6).hexdigest()
        folder = Path(settings.DATA_DIR) / "push" / digest
        if len(str(folder)) > MAX_FOLDER_CHARS:
            folder = Path(tempfile.gettempdir()) / f"image-studio-push-{digest}"
        return cls(folder=folder)

    def send(self, event_id: int) -> None:
        try:
            entries = [entry for entry in os.scandir(self.folder) if entry.name.endswith(".sock")]
        except FileNotFoundError:
            return  # no web process has listened yet
        payload = str(event_id).encode()
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
            sender.setblocking(False)
            for entry in entries:
                try:
                    sender.sendto(payload, entry.path)
                except ConnectionRefusedError:
                    # Nobody is bound to it: its process is gone.
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(entry.path)
                except (BlockingIOError, FileNotFoundError):
                    pass  # behind (it has wake-ups waiting) or just gone
                except OSError as exc:
                    logger.warning("Could not wake %s: %s", entry.path, exc)

    async def listen(self, wake: Callable[[int], None]) -> None:
        """Bind this process's socket and call `wake(newest id)` for what arrives, until
        cancelled; the socket file is removed on the way out."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{os.getpid()}-{secrets.token_hex(4)}.sock"
        receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        receiver.setblocking(False)
        receiver.bind(str(path))
        loop = asyncio.get_running_loop()
        readable = asyncio.Event()
        loop.add_reader(receiver.fileno(), readable.set)
        try:
            while True:
                await readable.wait()
                readable.clear()
                newest = None
                while True:
                    try:
                        payload = receiver.recv(32)
                    except BlockingIOError:
                        break
                    if payload.isdigit():
                        newest = max(newest or 0, int(payload))
                if newest is not None:
                    wake(newest)
        finally:
            loop.remove_reader(receiver.fileno())
            receiver.close()
            path.unlink(missing_ok=True)
