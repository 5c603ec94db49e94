from decimal import Decimal

import pytest

from flashport.domain.errors import InvalidInput
from flashport.domain.money import fen_to_decimal, format_fen, round_fen, to_fen


@pytest.mark.parametrize(
    ("amount", "fen"),
    [("0", 0), ("0.01", 1), ("129", 12900), ("129.9", 12990), (Decimal("4999.99"), 499999), (7, 700)],
)
def test_yuan_amounts_convert_to_exact_fen(amount: object, fen: int) -> None:
    assert to_fen(amount) == fen  # type: ignore[arg-type]


@pytest.mark.parametrize("amount", ["0.001", "-1", "abc", "NaN", "Infinity", "1e20"])
def test_fractions_of_a_fen_negatives_and_nonsense_are_refused(amount: str) -> None:
    with pytest.raises(InvalidInput):
        to_fen(amount)


@pytest.mark.parametrize(
    ("fen", "text"), [(0, "0.00"), (1, "0.01"), (12900, "129.00"), (499999, "4999.99"), (-250, "-2.50")]
)
def test_fen_are_shown_with_two_decimals(fen: int, text: str) -> None:
    assert format_fen(fen) == text
    assert fen_to_decimal(fen) == Decimal(text)


def test_rounding_to_the_fen_is_half_up() -> None:
    assert round_fen(Decimal("52.5")) == 53
    assert round_fen(Decimal("52.49")) == 52
