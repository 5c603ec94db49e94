"""``flashport worker --only/--skip``: which stages a worker process runs (the relay as a process of its
own, the rest in another)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from flashport import worker
from flashport.cli import main

RELAY = ("partner_events", "partner_events_published", "webhooks_queued", "webhooks_sent")


def test_a_worker_runs_every_stage_unless_told_otherwise() -> None:
    assert worker.select_stages() == worker.STAGES


def test_only_relay_runs_the_partner_stages_alone() -> None:
    assert tuple(s.name for s in worker.select_stages(only=("relay",))) == RELAY


def test_skip_relay_runs_everything_else_and_together_they_cover_every_stage_once() -> None:
    rest = worker.select_stages(skip=("relay",))
    relay = worker.select_stages(only=("relay",))
    assert not {s.name for s in rest} & set(RELAY)
    assert sorted(s.name for s in rest + relay) == sorted(s.name for s in worker.STAGES)


def test_a_single_stage_can_be_named() -> None:
    assert [s.name for s in worker.select_stages(only=("expired", "doubts_settled"))] == [
        "expired",
        "doubts_settled",
    ]


def test_an_unknown_name_is_refused_with_the_names_there_are() -> None:
    with pytest.raises(worker.UnknownStage, match="relay"):
        worker.select_stages(only=("relays",))
    result = CliRunner().invoke(main, ["worker", "--skip", "nope"])
    assert result.exit_code == 2 and "no stage or group named 'nope'" in result.output


def test_options_that_leave_no_stage_are_refused() -> None:
    result = CliRunner().invoke(main, ["worker", "--only", "relay", "--skip", "relay"])
    assert result.exit_code == 2 and "no stage to run" in result.output
