"""Validation against the official schema, customs' ``ceb_import_202205.xsd``.

The schema, and the XML-DSig schema it imports, ship inside the package (``schemas/``, with their origin
in ``schemas/ORIGIN.md``). They are read as package data, never by a path relative to the work tree, so
an installed wheel finds them as the work tree does. ``$FLASHPORT_CEB_XSD`` may point at another copy
on disk (its import then resolves beside it). A missing schema is an error, never a silent pass: a
message that was not validated is not valid.

The schema is compiled once per process, under a lock. libxml2's schema compiler must not run in two
threads at once: the customs simulator, validating and verifying signatures on worker threads, once
compiled schemas in two threads at once and from then on refused every message with
``XMLSchemaParseError``. So every schema compilation in the process, ours and signxml's
(which signxml does on its first verification, under a lock of its own), happens under one lock,
:data:`.schema_lock.schema_lock`. Servers call :func:`load_schema` at start, so no request pays for it.
"""

from __future__ import annotations

import os
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from lxml import etree

from flashport.ceb.errors import SchemaNotFound
from flashport.ceb.schema_lock import schema_lock, signature_schemas_under_lock
from flashport.ceb.xml import CEB_NS, DS_NS, safe_parser

SCHEMA_FILE = "ceb_import_202205.xsd"
SIGNATURE_SCHEMA_FILE = "xmldsig-core-schema.xsd"
XSD_ENV_VAR = "FLASHPORT_CEB_XSD"
# The base URL the packaged schema is parsed under: its relative xs:import resolves to a URL under the
# same base, which _PackagedSchemas serves from the package. No file outside the package, no network.
PACKAGE_URL = "flashport-package:/ceb/schemas/"

# schema_lock also guards validating: an lxml schema's error log is shared by all its callers.
_compiled: dict[str, Any] = {}  # schema source ($FLASHPORT_CEB_XSD or PACKAGE_URL) -> compiled schema


def packaged_schemas() -> Traversable:
    """The package's folder of official schemas (a plain folder in a wheel or a work tree)."""
    return resources.files("flashport.ceb") / "schemas"


def load_schema() -> Any:
    """This process's compiled CEB schema: compiled by the first caller, whatever its thread, and the
    same object for every later one. Safe to call from any thread at any time.

    Raises :class:`SchemaNotFound` when the schema cannot be found.
    """
    with schema_lock:
        return _schema_under_lock()


def forget_compiled_schema() -> None:
    """Drop the compiled CEB schema: the next caller compiles it again (tests of the first load)."""
    with schema_lock:
        _compiled.clear()


def validate(message: bytes) -> list[str]:
    """Problems found by the official XSD, one readable line each (element path: what is wrong);
    an empty list means valid.

    Raises :class:`SchemaNotFound` when the schema cannot be found.
    """
    schema = load_schema()
    try:
        document = etree.fromstring(message, parser=safe_parser())
    except etree.XMLSyntaxError as exc:
        return [f"not well-formed XML: {exc}"]
    with schema_lock:
        schema.validate(document)
        errors = list(schema.error_log)
    # The element path, not the line: messages are written on one line.
    return [f"{error.path or f'line {error.line}'}: {_shorten(error.message)}" for error in errors]


def _schema_under_lock() -> Any:
    override = os.environ.get(XSD_ENV_VAR)
    source = override or PACKAGE_URL
    schema = _compiled.get(source)
    if schema is None:
        schema = _compile_file(Path(override)) if override else _compile_packaged()
        _compiled[source] = schema
        signature_schemas_under_lock()
    return schema


def _compile_packaged() -> Any:
    parser = safe_parser()
    parser.resolvers.add(_PackagedSchemas())
    document = etree.fromstring(
        _read_packaged(SCHEMA_FILE), parser=parser, base_url=PACKAGE_URL + SCHEMA_FILE
    )
    return etree.XMLSchema(document)


def _compile_file(path: Path) -> Any:
    if not path.is_file():
        raise SchemaNotFound(f"CEB schema not found at {path}, from ${XSD_ENV_VAR}")
    # Parsing from the file path lets its xs:import of the XML-DSig schema resolve beside it.
    return etree.XMLSchema(etree.parse(str(path), parser=safe_parser()))


def _read_packaged(name: str) -> bytes:
    resource = packaged_schemas() / name
    if not resource.is_file():
        raise SchemaNotFound(
            f"the packaged CEB schema {resource} is missing: Flashport was installed without its package "
            f"data (or set ${XSD_ENV_VAR} to a copy of {SCHEMA_FILE})"
        )
    return resource.read_bytes()


class _PackagedSchemas(etree.Resolver):
    """Serves, from the package, the XML-DSig schema that the CEB schema imports. Any other URL is
    left to libxml2, which finds nothing under this made-up scheme and the network is off."""

    def resolve(self, system_url: str, public_id: str | None, context: Any) -> Any:
        name = system_url.removeprefix(PACKAGE_URL)
        if system_url.startswith(PACKAGE_URL) and name == SIGNATURE_SCHEMA_FILE:
            return self.resolve_string(_read_packaged(name), context, base_url=system_url)
        return None


def _shorten(text: str) -> str:
    return text.replace(f"{{{CEB_NS}}}", "ceb:").replace(f"{{{DS_NS}}}", "ds:")
