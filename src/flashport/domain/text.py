"""What text the platform accepts from anyone: no NUL or other control characters (C0, DEL, C1), no
bidirectional overrides or isolates (they make a name display as something else, "Trojan Source"), and
line breaks and tabs only where a field is made of lines (a description)."""

from __future__ import annotations

import re

_CONTROLS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufeff"
_ANYWHERE = re.compile(f"[{_CONTROLS}]")
_SINGLE_LINE = re.compile(f"[{_CONTROLS}\t\n\r]")


def forbidden_character(text: str, *, multiline: bool = False) -> str | None:
    """The first character ``text`` may not contain, or None. ``multiline`` allows tab, CR and LF."""
    found = (_ANYWHERE if multiline else _SINGLE_LINE).search(text)
    return None if found is None else found.group(0)


def describe(character: str) -> str:
    return f"U+{ord(character):04X}"


def is_safe_url(url: str) -> bool:
    """An address a page may show or link: ``https://host/...``, or a path on this site (``/x``, not
    ``//host`` nor anything with a backslash, which browsers read as another host). ``http:`` (mixed
    content), ``javascript:``, ``data:`` and every other scheme are refused."""
    if forbidden_character(url) is not None or "\\" in url or any(c.isspace() for c in url):
        return False
    if url.startswith("/"):
        return not url.startswith("//")
    host = url[len("https://") :].split("/", 1)[0] if url.lower().startswith("https://") else ""
    return bool(host) and "@" not in host
