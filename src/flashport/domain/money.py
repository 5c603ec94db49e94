"""Money is integer fen (1/100 CNY) everywhere inside Flashport; strings with two decimals at the edges.

Rounding rule where division happens: ROUND_HALF_UP to the fen ("commercial rounding"), named at the
call site through :func:`round_fen`.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from flashport.domain.errors import InvalidInput

FEN_PER_YUAN = 100
MAX_FEN = 10**13  # 100 billion yuan: far above any order, small enough for BIGINT and JSON numbers


def to_fen(amount: Decimal | str | int, *, field: str = "amount") -> int:
    """Exact conversion of a yuan amount to fen; refuses fractions of a fen, negatives and absurd sizes."""
    try:
        value = Decimal(str(amount))
    except InvalidOperation as exc:
        raise InvalidInput(f"{field} is not a number", code="invalid_money") from exc
    if not value.is_finite():
        raise InvalidInput(f"{field} must be a finite number", code="invalid_money")
    fen = value * FEN_PER_YUAN
    if fen != fen.to_integral_value():
        raise InvalidInput(f"{field} has more than two decimals", code="invalid_money")
    if fen < 0:
        raise InvalidInput(f"{field} must not be negative", code="invalid_money")
    if fen >= MAX_FEN:
        raise InvalidInput(f"{field} is too large", code="invalid_money")
    return int(fen)


def fen_to_decimal(fen: int) -> Decimal:
    return (Decimal(fen) / FEN_PER_YUAN).quantize(Decimal("0.01"))


def format_fen(fen: int) -> str:
    """``12900`` -> ``"129.00"`` (integer arithmetic: it runs for every order answered)."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), FEN_PER_YUAN)
    return f"{sign}{whole}.{cents:02d}"


def round_fen(value: Decimal) -> int:
    """Round a fractional fen amount to a whole fen, half up."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))
