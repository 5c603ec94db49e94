"""What filing and judging need besides the connection."""

from __future__ import annotations

from dataclasses import dataclass

from flashport.sandbox_customs.checks import Limits
from flashport.sandbox_customs.sealing import Sealer


@dataclass(frozen=True)
class Office:
    """The limits, the simulator's secret (documents are sealed and yearly totals keyed by it),
    whether the order's taxTotal is checked against customs' own assessment, and whether a matched
    list waits for an explicit release (``hold_release``) rather than being released at once."""

    limits: Limits
    sealer: Sealer
    check_tax: bool = True
    hold_release: bool = False
