"""Official reference lists shipped with the package (see ORIGIN.md beside this file): the
administrative division codes that prefix a resident ID number, and the packaged edition of the
cross-border retail import positive list. Each is read once, on first use, and kept."""

from __future__ import annotations

import csv
import functools
import io
from importlib import resources

from flashport.domain.customs_goods import PositiveList, positive_list


def _rows(name: str) -> tuple[list[str], list[dict[str, str]]]:
    """The file's ``#`` header lines and its CSV rows."""
    text = resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
    header = [line[1:].strip() for line in text.splitlines() if line.startswith("#")]
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    return header, list(csv.DictReader(io.StringIO(body)))


@functools.cache
def division_codes() -> frozenset[str]:
    """Every county-level-or-above division code, current or abolished (an ID number keeps the code
    it was issued under). ``000000`` and made-up prefixes are not in it."""
    return frozenset(row["code"] for row in _rows("division_codes.csv")[1])


@functools.cache
def packaged_positive_list() -> PositiveList:
    """The edition shipped in ``positive_list.csv``; operators load newer ones through the API."""
    header, rows = _rows("positive_list.csv")
    fields = {
        key.strip(): value.strip()
        for key, _, value in (line.partition(":") for line in header)
        if key.strip() in ("edition", "source")
    }
    return positive_list(fields["edition"], fields["source"], rows)
