"""The ``flashport`` command imports the bench and sandbox commands only when one of them is run: a
worker, API or sandbox process does not pay for the others at its start."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from flashport.cli import ELSEWHERE, main


def test_starting_the_command_imports_no_bench_or_sandbox_module() -> None:
    probe = (
        "import sys, flashport.cli\n"
        "print(sorted(m for m in sys.modules if m.startswith(('flashport.bench', 'flashport.sandbox_'))))"
    )
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"


def test_every_command_is_listed_and_each_imported_one_runs() -> None:
    listed = CliRunner().invoke(main, ["--help"])
    assert listed.exit_code == 0, listed.output
    for name in [*ELSEWHERE, "worker", "serve", "db"]:
        assert f"  {name} " in listed.output
    for name in ELSEWHERE:
        shown = CliRunner().invoke(main, [name, "--help"])
        assert shown.exit_code == 0 and shown.output.startswith("Usage: "), shown.output
