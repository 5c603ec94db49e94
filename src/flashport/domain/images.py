"""Product images as the console accepts them: PNG, JPEG or WebP, told by their first bytes (never by
the name or the type the browser claims), at most 2 MiB. SVG is refused: it can carry scripts."""

from __future__ import annotations

from flashport.domain.errors import FieldProblem, InvalidInput

MAX_IMAGE_BYTES = 2 * 1024 * 1024
KINDS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}
EXTENSIONS = {extension: kind for kind, extension in KINDS.items()}


def image_kind(data: bytes) -> str:
    """The content type of an accepted image, or 422 ``invalid_image``."""
    if not data:
        raise _refuse("choose an image file")
    if len(data) > MAX_IMAGE_BYTES:
        raise _refuse(f"an image has at most {MAX_IMAGE_BYTES // (1024 * 1024)} MiB")
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    raise _refuse("an image is a PNG, JPEG or WebP file")


def _refuse(message: str) -> InvalidInput:
    return InvalidInput(message, code="invalid_image", details=[FieldProblem("image", message)])
