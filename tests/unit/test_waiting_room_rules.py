"""The waiting room's pure rules: the admission token, the shuffle, the cursor, the automatic rate and
the proof-of-work challenge (domain/waiting_room.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flashport.domain.waiting_room import (
    Cursor,
    admission_refusal,
    auto_rate,
    challenge_refusal,
    derive_key,
    estimated_wait,
    make_challenge,
    shuffled_places,
    sign_admission,
    solve_challenge,
)

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
KEY, OLD_KEY = derive_key("current-secret", "admission token"), derive_key("old-secret", "admission token")


def test_an_admission_token_admits_its_buyer_to_its_item_until_it_expires() -> None:
    token = sign_admission(KEY, 7, 42, NOW + timedelta(seconds=120))
    assert admission_refusal([KEY], token, 7, 42, NOW) is None
    assert admission_refusal([KEY], token, 8, 42, NOW) == "invalid_admission"
    assert admission_refusal([KEY], token, 7, 43, NOW) == "invalid_admission"
    assert admission_refusal([KEY], token, 7, 42, NOW + timedelta(seconds=120)) == "admission_expired"
    assert admission_refusal([KEY], None, 7, 42, NOW) == "admission_required"


def test_a_forged_or_edited_token_is_refused_and_a_rotated_key_still_admits() -> None:
    token = sign_admission(KEY, 7, 42, NOW + timedelta(seconds=120))
    later = token.replace(f".{int((NOW + timedelta(seconds=120)).timestamp())}.", ".9999999999.")
    assert admission_refusal([KEY], later, 7, 42, NOW) == "invalid_admission"
    assert admission_refusal([KEY], "adm1.7.42.9999999999.AAAA", 7, 42, NOW) == "invalid_admission"
    assert admission_refusal([KEY], "garbage", 7, 42, NOW) == "invalid_admission"
    old = sign_admission(OLD_KEY, 7, 42, NOW + timedelta(seconds=60))
    assert admission_refusal([KEY, OLD_KEY], old, 7, 42, NOW) is None
    assert admission_refusal([KEY], old, 7, 42, NOW) == "invalid_admission"


def test_the_shuffle_deals_every_place_once_and_does_not_follow_arrival() -> None:
    arrivals = list(range(100, 300))
    dealt = shuffled_places(arrivals)
    assert sorted(dealt.values()) == list(range(1, 201))
    in_order = sum(1 for n, entry in enumerate(arrivals) if dealt[entry] == n + 1)
    assert in_order < 20  # about 1 expected; in order of arrival would be 200


def test_the_cursor_moves_at_its_rate_but_never_past_the_places_dealt() -> None:
    cursor = Cursor(0.0, NOW, 2.0, 5)
    assert cursor.advanced(NOW + timedelta(seconds=1)).admitted == 2.0
    assert cursor.advanced(NOW + timedelta(seconds=10)).admitted == 5.0
    assert cursor.advanced(NOW - timedelta(seconds=10)).admitted == 0.0
    moved = cursor.advanced(NOW + timedelta(seconds=1.5))
    assert moved.admits(3) and not moved.admits(4)
    assert estimated_wait(5, moved) == 1.0


def test_the_automatic_rate_opens_while_buyers_keep_up_and_follows_sales_when_they_do_not() -> None:
    assert auto_rate(100, 95, floor=5, ceiling=1000) == 150
    assert auto_rate(100, 40, floor=5, ceiling=1000) == 50
    assert auto_rate(100, 0, floor=5, ceiling=1000) == 5
    assert auto_rate(900, 900, floor=5, ceiling=1000) == 1000


def test_a_challenge_is_solved_by_work_and_bound_to_its_buyer_and_room() -> None:
    puzzle = make_challenge(KEY, 7, 42, 8, NOW + timedelta(minutes=5))
    solution = solve_challenge(puzzle)
    assert challenge_refusal([KEY], puzzle, solution, 7, 42, NOW) is None
    assert challenge_refusal([KEY], puzzle, solution, 8, 42, NOW) == "invalid_challenge"
    assert (
        challenge_refusal([KEY], puzzle, solution, 7, 42, NOW + timedelta(minutes=5)) == "challenge_expired"
    )
    wrong = next(str(n) for n in range(1000) if challenge_refusal([KEY], puzzle, str(n), 7, 42, NOW))
    assert challenge_refusal([KEY], puzzle, wrong, 7, 42, NOW) == "wrong_solution"
    easier = puzzle.replace(".8.", ".0.", 1)
    assert challenge_refusal([KEY], easier, "0", 7, 42, NOW) == "invalid_challenge"
