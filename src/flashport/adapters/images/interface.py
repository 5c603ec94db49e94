"""The image store's contract. Keys are made by the store from the content (a SHA-256 and the
extension), so the same picture uploaded twice is kept once, a key never names another's file, and a
stored image never changes (it may be cached for ever)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class StoredImage:
    key: str  # "<sha256 hex>.<png|jpg|webp>"
    content_type: str
    data: bytes


class ImageStore(Protocol):
    async def put(self, data: bytes, content_type: str) -> str:
        """Keep an image already checked (domain/images.py); returns its key."""
        ...

    async def get(self, key: str) -> StoredImage | None:
        """The image of ``key``, or None when there is none (or the key is not one this store makes)."""
        ...

    def url(self, key: str) -> str:
        """Where browsers fetch it."""
        ...
