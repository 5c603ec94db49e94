"""Where product images are kept: one interface (:class:`ImageStore`), kept on disk for now; an object
storage (S3 or compatible) implements the same three calls."""

from __future__ import annotations

from flashport.adapters.images.disk import DiskImageStore, image_store
from flashport.adapters.images.interface import ImageStore, StoredImage

__all__ = ["DiskImageStore", "ImageStore", "StoredImage", "image_store"]
