"""The official schemas ship in the package and compile once per process, safely from any thread.

The first load is the dangerous moment: two schema compilations at once in one process (ours, and the
one signxml does on its first verification) once left the customs simulator refusing every message
with ``XMLSchemaParseError``. The hammer below starts many threads and asyncio tasks on a cold cache at
the same instant, in this process and in a fresh one (where signxml has compiled nothing yet either).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
import signxml
from lxml import etree

import flashport
from flashport.ceb import SchemaNotFound, SoftwareKeySigner, inventory_message, validate, verify_signature
from flashport.ceb.validate import (
    SCHEMA_FILE,
    SIGNATURE_SCHEMA_FILE,
    forget_compiled_schema,
    load_schema,
    packaged_schemas,
)
from tests.unit.test_customs_messages import (
    APP_TIME,
    BONDED,
    NS,
    SENDER,
    bonded_order,
    inventory_for,
    order_message,
)

REPO = Path(__file__).resolve().parents[2]
PACKAGE_SCHEMAS = Path(flashport.__file__).resolve().parent / "ceb" / "schemas"
THREADS = 24
TASKS = 24


def test_the_packaged_schemas_are_the_official_files_named_in_their_origin_note() -> None:
    note = (packaged_schemas() / "ORIGIN.md").read_text(encoding="utf-8")
    recorded = dict((name, digest) for digest, name in re.findall(r"^([0-9a-f]{64})  (\S+)$", note, re.M))
    assert set(recorded) == {SCHEMA_FILE, SIGNATURE_SCHEMA_FILE}
    for name, digest in recorded.items():
        assert hashlib.sha256((packaged_schemas() / name).read_bytes()).hexdigest() == digest
    assert "2022-05" in note and "W3C" in note


def test_the_schema_is_read_from_the_package_and_from_no_other_file(tmp_path: Path) -> None:
    """In a fresh interpreter started away from the work tree, with no override: the CEB schema and
    the XML-DSig schema it imports are read from the package (signxml reads its own from its own
    package), and a real message validates."""
    script = """
import json, sys
opened = []
def note(event, args):
    if event == "open" and str(args[0]).endswith(".xsd"):
        opened.append(str(args[0]))
sys.addaudithook(note)
from flashport.ceb import validate
problems = validate(sys.stdin.buffer.read())
print(json.dumps({"opened": opened, "problems": problems}))
"""
    env = {key: value for key, value in os.environ.items() if key != "FLASHPORT_CEB_XSD"}
    message = order_message(bonded_order(), SENDER, app_time=APP_TIME)
    done = subprocess.run(
        [sys.executable, "-c", script], input=message, capture_output=True, cwd=tmp_path, env=env, check=True
    )
    seen = json.loads(done.stdout)
    assert seen["problems"] == []
    opened = {Path(path).resolve() for path in seen["opened"]}
    signxml_own = {path for path in opened if path.is_relative_to(Path(signxml.__file__).resolve().parent)}
    assert sorted(opened - signxml_own) == [
        PACKAGE_SCHEMAS / SCHEMA_FILE,
        PACKAGE_SCHEMAS / SIGNATURE_SCHEMA_FILE,
    ]


def test_flashport_ceb_xsd_still_points_at_another_copy(monkeypatch, tmp_path: Path) -> None:
    packaged = load_schema()
    for name in (SCHEMA_FILE, SIGNATURE_SCHEMA_FILE):
        (tmp_path / name).write_bytes((packaged_schemas() / name).read_bytes())
    monkeypatch.setenv("FLASHPORT_CEB_XSD", str(tmp_path / SCHEMA_FILE))
    assert validate(order_message(bonded_order(), SENDER, app_time=APP_TIME)) == []
    assert load_schema() is not packaged  # compiled from the copy, once
    assert load_schema() is load_schema()
    monkeypatch.delenv("FLASHPORT_CEB_XSD")
    assert load_schema() is packaged


def test_a_missing_override_is_an_error_even_for_a_malformed_message(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FLASHPORT_CEB_XSD", str(tmp_path / "nowhere.xsd"))
    with pytest.raises(SchemaNotFound, match=r"nowhere\.xsd"):
        validate(b"<not xml")


@dataclass(frozen=True)
class Outcome:
    worker: str
    answer: str  # what validate (and for the signed message, verify_signature) gave, as text
    expected: str
    schema_id: int  # the compiled schema this worker used after its first load


def hammer_first_load() -> list[Outcome]:
    """Forget the compiled schema, then validate from THREADS threads and TASKS asyncio tasks let go
    at the same instant: good, broken and signed messages, the signed ones verified too."""
    signer = SoftwareKeySigner.generate("Flashport hammer")
    good = order_message(bonded_order(), SENDER, app_time=APP_TIME)
    signed = inventory_message(inventory_for(bonded_order(), BONDED), SENDER, signer=signer)
    root = etree.fromstring(good)
    paid = root.find(".//ceb:acturalPaid", NS)
    paid.getparent().remove(paid)
    broken = etree.tostring(root)
    broken_answer = str(
        [
            "/ceb:CEB311Message/ceb:Order/ceb:OrderHead/ceb:currency: Element 'ceb:currency': "
            "This element is not expected. Expected is ( ceb:acturalPaid )."
        ]
    )
    cases = [(good, "[]"), (broken, broken_answer), (signed, "[] verified")]

    def check(worker: str, index: int) -> Outcome:
        message, expected = cases[index % len(cases)]
        try:
            answer = str(validate(message))
            if message is signed:
                verify_signature(message, signer.certificate)
                answer += " verified"
        except Exception as exc:  # the failure is the finding: keep it as text for the assertion
            answer = f"{type(exc).__name__}: {exc}"
        return Outcome(worker, answer, expected, id(load_schema()))

    forget_compiled_schema()
    outcomes: list[Outcome] = []
    start = threading.Barrier(THREADS + 1)

    def in_thread(index: int) -> None:
        start.wait()
        outcomes.append(check(f"thread {index}", index))

    threads = [threading.Thread(target=in_thread, args=(index,)) for index in range(THREADS)]

    async def tasks() -> list[Outcome]:
        async def on_loop(index: int) -> Outcome:
            return check(f"task {index} on the loop", index)

        async def off_loop(index: int) -> Outcome:  # as the simulator does: asyncio.to_thread
            return await asyncio.to_thread(check, f"task {index} in to_thread", index)

        for thread in threads:
            thread.start()
        start.wait()  # lets every thread go; the tasks start as this coroutine yields
        return await asyncio.gather(
            *(off_loop(index) if index % 2 else on_loop(index) for index in range(TASKS))
        )

    outcomes.extend(asyncio.run(tasks()))
    for thread in threads:
        thread.join()
    return outcomes


def _assert_all_right(outcomes: list[Outcome]) -> None:
    assert len(outcomes) == THREADS + TASKS
    wrong = [outcome for outcome in outcomes if outcome.answer != outcome.expected]
    assert wrong == []
    assert len({outcome.schema_id for outcome in outcomes}) == 1, "the schema was compiled more than once"


def test_a_cold_schema_hammered_from_threads_and_tasks_answers_every_message_right() -> None:
    _assert_all_right(hammer_first_load())


def test_a_fresh_process_hammered_on_its_first_load_answers_every_message_right() -> None:
    """Nothing compiled yet in that process, signxml's schemas included: the real first load."""
    script = (
        "import dataclasses, json\n"
        "from tests.unit.test_ceb_schema import hammer_first_load\n"
        "print(json.dumps([dataclasses.asdict(o) for o in hammer_first_load()]))\n"
    )
    for _ in range(3):
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, cwd=REPO, check=True, timeout=120
        )
        _assert_all_right([Outcome(**fields) for fields in json.loads(done.stdout)])
