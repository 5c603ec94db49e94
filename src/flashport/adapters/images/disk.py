"""Images kept as files in one folder (``<data dir>/images``), served by the platform at
``/media/images/<key>``. Writes go to a temporary name first and are renamed into place, so a reader
never sees half a file."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from pathlib import Path

from flashport.adapters.images.interface import StoredImage
from flashport.domain.images import EXTENSIONS, KINDS

KEY = re.compile(r"^[0-9a-f]{64}\.(png|jpg|webp)$")
URL_PREFIX = "/media/images/"


class DiskImageStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def put(self, data: bytes, content_type: str) -> str:
        key = f"{hashlib.sha256(data).hexdigest()}.{KINDS[content_type]}"
        await asyncio.to_thread(self._write, key, data)
        return key

    def _write(self, key: str, data: bytes) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / key
        if target.exists():
            return
        temporary = self.folder / f".{key}.{os.getpid()}.tmp"
        temporary.write_bytes(data)
        temporary.replace(target)

    async def get(self, key: str) -> StoredImage | None:
        if not KEY.match(key):
            return None
        path = self.folder / key
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return None
        return StoredImage(key, EXTENSIONS[key.rsplit(".", 1)[1]], data)

    def url(self, key: str) -> str:
        return URL_PREFIX + key


def image_store(data_dir: Path) -> DiskImageStore:
    """The store the settings choose: on disk under the data directory (the only kind so far)."""
    return DiskImageStore(data_dir / "images")
