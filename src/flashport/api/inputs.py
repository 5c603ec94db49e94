"""One mechanism for what every request may carry, shared by all routes:

- :class:`Input`, the base of every request body: unknown fields refused, every string free of control
  and bidi-override characters (line breaks only in multi-line fields), every integer within 64 bits;
- :data:`Id`, :data:`Limit` and :data:`Offset`, the types of id path parameters and paging queries, so
  an id beyond 64 bits is a 422, not a database overflow, and ``?limit=-1`` is refused.

Path and query strings are screened by the :mod:`flashport.api.guards` middleware, bodies are capped
there too.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from flashport.domain.text import describe, forbidden_character

MAX_ID = 2**63 - 1  # BIGINT: every id column
MAX_PAGE = 500
MAX_OFFSET = 1_000_000

Id = Annotated[int, Path(ge=1, le=MAX_ID, description="an id: a whole number from 1 to 2^63-1")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"rows per page, 1 to {MAX_PAGE}")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description=f"rows to skip, 0 to {MAX_OFFSET}")]


class Input(BaseModel):
    """Base of request bodies. ``multiline_fields`` names the fields that may hold line breaks."""

    model_config = ConfigDict(extra="forbid")  # a misspelt field is an error, not silently ignored
    multiline_fields: ClassVar[frozenset[str]] = frozenset({"description", "reason", "note"})

    @field_validator("*", mode="after")
    @classmethod
    def _clean(cls, value: Any, info: ValidationInfo) -> Any:
        # Per field, so a refusal names the field it is about (``details[].field``).
        name = info.field_name or "body"
        _check(value, name, name in cls.multiline_fields)
        return value


# The error type of a refused character: the API answers it as ``invalid_characters``, the code the
# domain's entry checks give the same refusal (api/errors.py).
INVALID_CHARACTERS = "invalid_characters"


def _check(value: object, name: str, multiline: bool) -> None:
    if isinstance(value, str):
        bad = forbidden_character(value, multiline=multiline)
        if bad is not None:
            raise PydanticCustomError(
                INVALID_CHARACTERS,
                "control or bidi character {character} is not allowed",
                {"character": describe(bad)},
            )
    elif isinstance(value, bool):
        return
    elif isinstance(value, int):
        if not -MAX_ID - 1 <= value <= MAX_ID:
            raise ValueError(f"{name}: a whole number beyond 64 bits")
    elif isinstance(value, list | tuple | set):
        for item in value:
            _check(item, name, multiline)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check(key, name, multiline)
            _check(item, name, multiline)


OptionalId = Annotated[int | None, Query(ge=1, le=MAX_ID, description="an id, 1 to 2^63-1")]
