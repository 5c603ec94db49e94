"""The waiting room's rules, pure (rule 12, fair admission): the shuffle of the pre-queue, a buyer's
position and estimated wait, the admission rate derived from measured sales, the signed admission
token the buy path checks with no database or Redis call, and the proof-of-work challenge put to a
buyer who looks automated.

A room belongs to one sale item. Every buyer holds at most one *place*: a whole number from 1. The
places of the pre-queue (buyers who joined before the start) are dealt at the start by a
cryptographic shuffle; later arrivals take the next place in order of arrival. Admission is a cursor
moving up the places at the admission rate: a buyer whose place is at or below it is admitted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

ADMISSION_PREFIX = "adm1"
CHALLENGE_PREFIX = "pow1"


@dataclass(frozen=True, slots=True)
class RoomTerms:
    """What an operator sets on a hot item. ``admit_per_second`` None: derived from measured sales."""

    item_id: int
    opens_before: timedelta
    admit_per_second: float | None
    token_seconds: int


@dataclass(frozen=True, slots=True)
class Cursor:
    """How far admission went: places up to ``admitted`` (a fraction while between two places) were
    admitted as of ``at``, at ``rate`` places a second; ``places`` were dealt so far."""

    admitted: float
    at: datetime
    rate: float
    places: int

    def advanced(self, now: datetime) -> Cursor:
        """The cursor at ``now``: never past the last place dealt, never backwards."""
        seconds = max(0.0, (now - self.at).total_seconds())
        admitted = min(float(self.places), self.admitted + self.rate * seconds)
        return Cursor(max(admitted, self.admitted), max(now, self.at), self.rate, self.places)

    def admits(self, place: int) -> bool:
        return place <= math.floor(self.admitted + 1e-9)


def shuffled_places(arrivals: Sequence[int], first_place: int = 1) -> dict[int, int]:
    """Places for the pre-queue, given its entries in order of arrival: a uniformly random permutation
    drawn from the operating system's cryptographic source, so neither arriving early nor predicting
    the generator gains a place."""
    order = list(arrivals)
    secrets.SystemRandom().shuffle(order)
    return {entry: first_place + n for n, entry in enumerate(order)}


def estimated_wait(place: int, cursor: Cursor) -> float:
    """Seconds until ``place`` is admitted at the cursor's current rate (0 once admitted)."""
    ahead = place - cursor.admitted
    if ahead <= 0:
        return 0.0
    return ahead / cursor.rate if cursor.rate > 0 else math.inf


@dataclass(frozen=True, slots=True)
class RatePolicy:
    """The automatic rate's bounds and where it starts (settings ``queue_auto_rate_*``)."""

    start: float
    floor: float
    ceiling: float


@dataclass(frozen=True, slots=True)
class FrictionPolicy:
    """From how many accounts from one address, or joins from it within ``burst_seconds``, a join must
    answer a challenge (settings ``queue_accounts_per_address`` etc.)."""

    max_accounts: int
    max_burst: int
    burst_seconds: float


AUTO_RATE_EVERY = timedelta(seconds=2)  # how often the automatic rate is re-derived from sales


def rederive(
    cursor: Cursor,
    remaining: int,
    mark: int | None,
    mark_at: datetime | None,
    now: datetime,
    rates: RatePolicy,
) -> tuple[Cursor, int | None, datetime | None]:
    """The cursor with its automatic rate re-derived from the units sold since the last mark (taken at
    most every ``AUTO_RATE_EVERY``), and the new mark: (cursor, units left, when)."""
    if mark is None or mark_at is None:
        return cursor, remaining, now
    seconds = (now - mark_at).total_seconds()
    if seconds < AUTO_RATE_EVERY.total_seconds():
        return cursor, mark, mark_at
    sold_per_second = max(0, mark - remaining) / seconds
    rate = auto_rate(cursor.rate, sold_per_second, floor=rates.floor, ceiling=rates.ceiling)
    return Cursor(cursor.admitted, cursor.at, rate, cursor.places), remaining, now


def auto_rate(current: float, sold_per_second: float, *, floor: float, ceiling: float) -> float:
    """The admission rate derived from measured capacity: while admitted buyers buy at least 80 % as
    fast as they are let in, the servers keep up and the door opens half as wide again; when they fall
    behind, the rate follows what was actually sold (with a quarter of headroom), so the queue never
    pours more buyers onto the buy path than it absorbs. Bounded by ``floor`` and ``ceiling``."""
    wanted = current * 1.5 if sold_per_second >= 0.8 * current else sold_per_second * 1.25
    return min(ceiling, max(floor, wanted))


# --- the admission token ------------------------------------------------------------------------------


def derive_key(secret: str, purpose: str) -> bytes:
    """A key of its own for one use of the keyring's secret (the token never shares a key with the
    session tokens)."""
    return hmac.new(secret.encode(), f"flashport {purpose}".encode(), hashlib.sha256).digest()


def _mac(key: bytes, message: str) -> str:
    digest = hmac.new(key, message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign_admission(key: bytes, buyer_id: int, item_id: int, expires: datetime) -> str:
    """``adm1.<buyer>.<item>.<expiry in unix seconds>.<HMAC-SHA256>``: it names who may buy what until
    when, and only the deployment's key makes one."""
    message = f"{ADMISSION_PREFIX}.{buyer_id}.{item_id}.{int(expires.timestamp())}"
    return f"{message}.{_mac(key, message)}"


def admission_refusal(
    keys: Sequence[bytes], token: str | None, buyer_id: int, item_id: int, now: datetime
) -> str | None:
    """Why ``token`` does not admit ``buyer_id`` to buy ``item_id`` at ``now`` (None: it does). Any key
    of ``keys`` is accepted (a rotation's previous secrets); the comparison is in constant time."""
    if not token:
        return "admission_required"
    message, _, mac = token.rpartition(".")
    parts = message.split(".")
    if len(parts) != 4 or parts[0] != ADMISSION_PREFIX or not all(p.isdigit() for p in parts[1:]):
        return "invalid_admission"
    if not any(hmac.compare_digest(mac, _mac(key, message)) for key in keys):
        return "invalid_admission"
    if int(parts[1]) != buyer_id or int(parts[2]) != item_id:
        return "invalid_admission"
    if int(parts[3]) <= now.timestamp():
        return "admission_expired"
    return None


# --- bot friction ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Suspicion:
    """What the room saw of a joining buyer's address: how many accounts already joined from it, and how
    many joins it made in the last burst window."""

    accounts_from_address: int
    recent_joins_from_address: int

    def looks_automated(self, *, max_accounts: int, max_burst: int) -> bool:
        return self.accounts_from_address >= max_accounts or self.recent_joins_from_address >= max_burst


def make_challenge(key: bytes, buyer_id: int, item_id: int, difficulty: int, expires: datetime) -> str:
    """A signed puzzle for one buyer and room: find ``solution`` such that SHA-256 of
    ``<challenge>:<solution>`` starts with ``difficulty`` zero bits (2**difficulty hashes on average).
    The server keeps nothing: the signature proves it set this puzzle."""
    nonce = secrets.token_hex(8)
    message = f"{CHALLENGE_PREFIX}.{buyer_id}.{item_id}.{difficulty}.{int(expires.timestamp())}.{nonce}"
    return f"{message}.{_mac(key, message)}"


def challenge_difficulty(challenge: str) -> int:
    return int(challenge.split(".")[3])


def leading_zero_bits(digest: bytes) -> int:
    bits = 0
    for byte in digest:
        if byte:
            return bits + 8 - byte.bit_length()
        bits += 8
    return bits


def challenge_refusal(
    keys: Sequence[bytes], challenge: str, solution: str, buyer_id: int, item_id: int, now: datetime
) -> str | None:
    """Why ``solution`` does not answer ``challenge`` for this buyer and room (None: it does)."""
    message, _, mac = challenge.rpartition(".")
    parts = message.split(".")
    if len(parts) != 6 or parts[0] != CHALLENGE_PREFIX or not all(p.isdigit() for p in parts[1:5]):
        return "invalid_challenge"
    if not any(hmac.compare_digest(mac, _mac(key, message)) for key in keys):
        return "invalid_challenge"
    if int(parts[1]) != buyer_id or int(parts[2]) != item_id:
        return "invalid_challenge"
    if int(parts[4]) <= now.timestamp():
        return "challenge_expired"
    if len(solution) > 32:
        return "wrong_solution"
    digest = hashlib.sha256(f"{challenge}:{solution}".encode()).digest()
    return None if leading_zero_bits(digest) >= int(parts[3]) else "wrong_solution"


def solve_challenge(challenge: str) -> str:
    """What a browser's script does (and the benchmark's buyers): count up until the hash has enough
    zero bits."""
    difficulty = challenge_difficulty(challenge)
    n = 0
    while True:
        digest = hashlib.sha256(f"{challenge}:{n}".encode()).digest()
        if leading_zero_bits(digest) >= difficulty:
            return str(n)
        n += 1
