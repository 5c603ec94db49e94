"""The one lock under which every XML schema of the process is compiled, and the XML-DSig schemas
that signxml compiles for itself.

libxml2's schema compiler must not run in two threads at once (see :mod:`.validate`). signxml compiles
its schemas on its first verification, under a lock of its own that does not keep it apart from
ours; :func:`prepare_signature_schemas` has it do so under this one. A module of its own, importing
nothing of the codec, so that both :mod:`.validate` and :mod:`.signing` can use it.
"""

from __future__ import annotations

import threading

from signxml import XMLVerifier

schema_lock = threading.Lock()
_signature_schemas_compiled = False


def prepare_signature_schemas() -> None:
    """Have signxml compile its XML-DSig schemas now, under :data:`schema_lock`. Cheap once done;
    call it before a verification."""
    with schema_lock:
        signature_schemas_under_lock()


def signature_schemas_under_lock() -> None:
    """:func:`prepare_signature_schemas` for a caller that holds :data:`schema_lock` already."""
    global _signature_schemas_compiled
    if not _signature_schemas_compiled:
        XMLVerifier.schemas()  # compiles and caches them for every XMLVerifier of the process
        _signature_schemas_compiled = True
