"""The live-sale dashboard (docs/grafana/flashport-live-sale.json) queries only metrics the platform
exports, so a renamed metric fails here instead of leaving an empty panel on sale day."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import REGISTRY

from flashport.adapters import metrics

DASHBOARD = Path(__file__).parents[2] / "docs" / "grafana" / "flashport-live-sale.json"


def exported_names() -> set[str]:
    suffixes = ("", "_total", "_bucket", "_sum", "_count")
    names = {family.name + suffix for family in REGISTRY.collect() for suffix in suffixes}
    backlog = metrics.render_backlog({"declared": 0}, {"webhook_delivery": 0.0}).decode()
    return names | set(re.findall(r"^(flashport_\w+)", backlog, re.MULTILINE))


def test_every_panel_of_the_dashboard_queries_metrics_the_platform_exports() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\bflashport_\w+", target["expr"])
    }
    assert queried - exported_names() == set()
    assert len(dashboard["panels"]) >= 10
