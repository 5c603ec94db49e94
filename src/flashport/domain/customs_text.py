"""What a customs message can carry: the characters an XML 1.0 document may hold, and one line where the
customs schema means one line.

Every name, address, title and specification the platform declares ends up as the text of an element
in a CEB message. A character XML 1.0 cannot hold (``Char ::= #x9 | #xA | #xD | [#x20-#xD7FF] |
[#xE000-#xFFFD] | [#x10000-#x10FFFF]``) makes the message impossible to build, and the declaration
would be stuck long after the buyer or supplier who typed it has gone. So these rules run where the
text enters (checkout, identities, the catalog) and refuse it there, with the field and the character.

Besides what XML forbids, the rules refuse the other control characters (DEL and the C1 controls
U+0080-U+009F): XML 1.0 allows them, but they are invisible, no name or address needs one, and customs
systems downstream are not known to accept them. In one-line fields a tab or line break is refused too
(and U+2028/U+2029, the Unicode line and paragraph separators): the schema's names, titles and phone
numbers are single values.

Messages name the character by its code point and position, never repeat the value: it may be
personal data, and messages end up in logs.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from flashport.domain.errors import FieldProblem, InvalidInput

INVALID_CHARACTERS = "invalid_characters"
_LINE_BREAKS = frozenset("\t\n\r\u2028\u2029")


class CharacterProblem(enum.StrEnum):
    """Why a character cannot go into a declaration; the values are the words used in messages."""

    NOT_XML = "a character XML cannot carry"
    CONTROL = "a control character"
    LINE_BREAK = "a tab or line break in a one-line field"


@dataclass(frozen=True)
class BadCharacter:
    position: int  # 1-based, counted in characters (code points), as a person counts them
    code_point: int
    problem: CharacterProblem

    def describe(self) -> str:
        return f"U+{self.code_point:04X} ({self.problem.value}) at character {self.position}"


def is_xml_char(code_point: int) -> bool:
    """Whether XML 1.0 may hold the character at all (its ``Char`` production)."""
    return (
        code_point in (0x9, 0xA, 0xD)
        or 0x20 <= code_point <= 0xD7FF
        or 0xE000 <= code_point <= 0xFFFD
        or 0x10000 <= code_point <= 0x10FFFF
    )


def problem_of(character: str, *, multiline: bool) -> CharacterProblem | None:
    """What is wrong with one character in a field, or None when a declaration can carry it."""
    code_point = ord(character)
    if not is_xml_char(code_point):
        return CharacterProblem.NOT_XML
    if character in _LINE_BREAKS:
        return None if multiline else CharacterProblem.LINE_BREAK
    if code_point == 0x7F or 0x80 <= code_point <= 0x9F:
        return CharacterProblem.CONTROL
    return None


def first_bad_character(value: str, *, multiline: bool = False) -> BadCharacter | None:
    """The first character of ``value`` a declaration cannot carry, or None when all can."""
    for index, character in enumerate(value):
        problem = problem_of(character, multiline=multiline)
        if problem is not None:
            return BadCharacter(index + 1, ord(character), problem)
    return None


def check_carriable(value: str, *, field: str, multiline: bool = False) -> str:
    """``value`` unchanged when a customs message can carry every character of it; otherwise
    InvalidInput coded ``invalid_characters`` naming the field and the first bad character.

    One-line fields are checked as given, before any trimming: callers trim and fold whitespace
    themselves, and a line break at either end is harmless, so ``strip()`` it first where the field
    allows that."""
    bad = first_bad_character(value, multiline=multiline)
    if bad is None:
        return value
    hint = f"contains {bad.describe()}; remove it"
    raise InvalidInput(
        f"{field.replace('_', ' ')} {hint}", code=INVALID_CHARACTERS, details=[FieldProblem(field, hint)]
    )


def trimmed_carriable(value: str, *, field: str, multiline: bool = False) -> str:
    """``value`` with surrounding whitespace trimmed, when a customs message can carry it.

    Control characters are refused anywhere, even at the ends where trimming would drop some of them
    (Python counts U+001C-U+001F as whitespace): they are a sign of garbled input, not of spacing. A
    line break is refused only inside a one-line value; at its ends it is whitespace like any other."""
    check_carriable(value, field=field, multiline=True)
    cleaned = value.strip()
    return check_carriable(cleaned, field=field, multiline=multiline)
