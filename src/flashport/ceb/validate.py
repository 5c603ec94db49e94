"""Validation against the official schema, customs' ``ceb_import_202205.xsd``.

The XSD is not vendored: it lives in ``shared/reference/ceb/`` beside the repository (CI clones the
repository and places ``shared/`` next to it, read-only). ``$FLASHPORT_CEB_XSD`` points elsewhere.
A missing schema is an error, never a silent pass: a message that was not validated is not valid.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from lxml import etree

from flashport.ceb.errors import SchemaNotFound
from flashport.ceb.xml import CEB_NS, DS_NS, safe_parser

XSD_ENV_VAR = "FLASHPORT_CEB_XSD"
_REPO_ROOT = Path(__file__).resolve().parents[3]  # src/flashport/ceb/validate.py -> repository
DEFAULT_XSD_PATH = _REPO_ROOT.parent / "shared" / "reference" / "ceb" / "ceb_import_202205.xsd"

# lxml's schema objects must not validate from two threads at once.
_validating = threading.Lock()


def ceb_schema_path() -> Path:
    """``$FLASHPORT_CEB_XSD`` if set, else ``<repo>/../shared/reference/ceb/ceb_import_202205.xsd``."""
    override = os.environ.get(XSD_ENV_VAR)
    path = Path(override) if override else DEFAULT_XSD_PATH
    if not path.is_file():
        source = f"${XSD_ENV_VAR}" if override else f"the default location (set ${XSD_ENV_VAR} to override)"
        raise SchemaNotFound(f"CEB schema not found at {path}, from {source}")
    return path


@lru_cache(maxsize=4)
def _load_schema(path: Path) -> Any:
    # Parsing from the file path lets the xs:import of xmldsig-core-schema.xsd resolve beside it.
    return etree.XMLSchema(etree.parse(str(path), parser=safe_parser()))


def validate(message: bytes) -> list[str]:
    """Problems found by the official XSD, one readable line each (element path: what is wrong);
    an empty list means valid.

    Raises :class:`SchemaNotFound` when the schema cannot be found.
    """
    schema = _load_schema(ceb_schema_path())
    try:
        document = etree.fromstring(message, parser=safe_parser())
    except etree.XMLSyntaxError as exc:
        return [f"not well-formed XML: {exc}"]
    with _validating:
        schema.validate(document)
        errors = list(schema.error_log)
    # The element path, not the line: messages are written on one line.
    return [f"{error.path or f'line {error.line}'}: {_shorten(error.message)}" for error in errors]


def _shorten(text: str) -> str:
    return text.replace(f"{{{CEB_NS}}}", "ceb:").replace(f"{{{DS_NS}}}", "ds:")
