"""``flashport demo`` as a newcomer runs it: its own process on a port other than 8000, a fresh data
folder, the API, the worker and the three partners' sandboxes. One order goes from buy to shipped
through the sandbox's real payment page and signed notification; SIGTERM and a terminal's Ctrl-C stop
every process and free the port, and even a ``kill -9`` of the demo leaves no child behind; a start
that fails exits non-zero and leaves nothing running."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import free_port

pytestmark = pytest.mark.slow

BUYER, OPERATOR, PASSWORD = "buyer@flashport.demo", "operator@flashport.demo", "flashport-demo"
NAME, ID_NUMBER = "张三", "11010519491231002X"
STARTED_WITHIN = 180.0  # migrations, the demo catalog and two processes, on a busy 2-core machine
SHIPPED_WITHIN = 60.0


class Demo:
    """One ``flashport demo`` process. Every process it starts inherits its data folder, which is how
    the test finds them all, even one that outlived it."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir, self.port = data_dir, port
        self.url = f"http://127.0.0.1:{port}"
        self.log = data_dir.parent / f"demo-{port}.log"
        env = {name: value for name, value in os.environ.items() if not name.startswith("FLASHPORT_")}
        env |= {"FLASHPORT_DATA_DIR": str(data_dir), "FLASHPORT_PORT": str(port)}
        env |= {"FLASHPORT_WORKER_POLL_SECONDS": "0.2", "PYTHONUNBUFFERED": "1"}
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "flashport", "demo"],
                cwd=data_dir.parent,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a process group of its own, as a shell gives a command
            )

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_until_serving(self) -> None:
        """Until the API answers and the demo says it is ready (the worker is started after that)."""
        until(lambda: "Flashport demo on" in self.output and _answers(self.url + "/healthz"), STARTED_WITHIN,
              lambda: f"the demo did not start:\n{self.output}", self.process)  # fmt: skip

    def processes(self) -> set[int]:
        """Every live process started for this demo: the demo itself and its children."""
        marker = f"FLASHPORT_DATA_DIR={self.data_dir}".encode()
        found = set()
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    environ = (entry / "environ").read_bytes().split(b"\0")
                    state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                except OSError:  # gone meanwhile, or not ours to read
                    continue
                if marker in environ and state != "Z":
                    found.add(int(entry.name))
        return found

    def stop(self) -> None:
        for pid in self.processes():
            os.kill(pid, signal.SIGKILL)
        self.process.wait()


@pytest.fixture
def start_demo(tmp_path: Path) -> Iterator[Callable[[int], Demo]]:
    started: list[Demo] = []

    def start(port: int) -> Demo:
        started.append(Demo(tmp_path / f"data-{port}", port))
        return started[-1]

    yield start
    for demo in started:  # a failed test leaves nothing running
        demo.stop()


def test_the_demo_on_another_port_takes_an_order_from_buy_to_shipped_and_stops_on_sigterm(start_demo) -> None:
    demo = start_demo(free_port())
    demo.wait_until_serving()
    assert len(demo.processes()) == 3  # the demo, serve and worker
    with httpx.Client(base_url=demo.url, timeout=10) as client:
        order_no = _buy_and_pay_on_the_sandbox_page(client, demo.url)
        states = _follow(client, order_no)
        declaration = client.get(f"/api/v1/declarations/{order_no}", headers=_login(client, OPERATOR)).json()
    assert states[0] in {("pending_payment", None), ("paid", "pending")}
    assert states[-1] == ("paid", "shipped")
    assert {"CEB311", "CEB511", "CEB621"} <= {message["kind"] for message in declaration["messages"]}
    assert declaration["receipts"] and declaration["released_at"] and declaration["shipped_at"]

    _assert_stops_cleanly(demo, signal.SIGTERM)
    assert "WARNING" not in demo.output and "Traceback" not in demo.output, demo.output


def test_ctrl_c_stops_the_demo_its_children_and_frees_the_port(start_demo) -> None:
    """As in a terminal: SIGINT to the demo's whole process group, right after it is ready (the
    worker may still be importing)."""
    demo = start_demo(free_port())
    demo.wait_until_serving()
    _assert_stops_cleanly(demo, signal.SIGINT, to_group=True)
    assert "Traceback" not in demo.output, demo.output


def test_a_demo_killed_outright_leaves_no_child_running(start_demo) -> None:
    demo = start_demo(free_port())
    demo.wait_until_serving()
    demo.process.kill()
    demo.process.wait()
    until(lambda: not demo.processes(), 30, lambda: f"still running: {demo.processes()}")


def test_a_demo_whose_port_is_taken_exits_non_zero_and_leaves_nothing_running(start_demo) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        demo = start_demo(squatter.getsockname()[1])
        code = demo.process.wait(timeout=STARTED_WITHIN)
    assert code != 0
    assert f"flashport serve exited with code {code} before it was ready" in demo.output
    assert "worker started" not in demo.output
    assert demo.processes() == set()


def _assert_stops_cleanly(demo: Demo, sig: signal.Signals, *, to_group: bool = False) -> None:
    assert len(demo.processes()) == 3
    if to_group:
        os.killpg(demo.process.pid, sig)
    else:
        demo.process.send_signal(sig)
    assert demo.process.wait(timeout=30) == 0, demo.output
    until(lambda: not demo.processes(), 10, lambda: f"still running: {demo.processes()}")
    with socket.socket() as probe:  # no one listens on the port any more
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", demo.port))
        probe.listen()


def _buy_and_pay_on_the_sandbox_page(client: httpx.Client, base: str) -> str:
    """As the buyer: buy item 1, check out, pay on the sandbox provider's page. Every address the
    buyer is sent to is on the demo's own port."""
    buyer = _login(client, BUYER)
    identity = client.post("/api/v1/identities", headers=buyer, json={"name": NAME, "id_number": ID_NUMBER})
    key = {"Idempotency-Key": "demo-process-test"}
    bought = client.post("/api/v1/sale-items/1/buy", headers=buyer | key, json={"quantity": 1})
    assert bought.status_code == 201, bought.text
    order_no = bought.json()["order_no"]
    consignee = {
        "consignee_name": NAME,
        "consignee_phone": "13800138000",
        "identity_id": identity.json()["id"],
    }
    consignee["consignee_address"] = "上海市浦东新区世纪大道100号2201室"
    checked_out = client.post(f"/api/v1/orders/{order_no}/checkout", headers=buyer, json=consignee)
    assert checked_out.status_code == 200, checked_out.text
    redirect = client.post(f"/api/v1/orders/{order_no}/pay", headers=buyer).json()["redirect_url"]
    assert redirect.startswith(f"{base}/sandbox/alipay/gateway.do?")
    page = httpx.get(redirect, timeout=10)
    action = re.search(r'<form method="post" action="([^"]+)"', page.text)
    assert page.status_code == 200 and action, page.text
    paid = httpx.post(base + action[1], data={"payer_name": NAME, "payer_id_number": ID_NUMBER}, timeout=10)
    assert paid.status_code == 303 and paid.headers["location"].startswith(f"{base}/orders?"), paid.text
    return str(order_no)


def _follow(client: httpx.Client, order_no: str) -> list[tuple[str, str | None]]:
    """The order's (status, customs status) as the buyer sees them change, until shipped."""
    buyer, states = _login(client, BUYER), []

    def shipped() -> bool:
        order = client.get(f"/api/v1/orders/{order_no}", headers=buyer).json()
        state = (order["status"], order["customs_status"])
        if not states or states[-1] != state:
            states.append(state)
        return state[1] == "shipped"

    until(shipped, SHIPPED_WITHIN, lambda: f"not shipped: {states}")
    return states


def _login(client: httpx.Client, email: str) -> dict[str, str]:
    answer = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def until(
    condition: Callable[[], bool],
    within: float,
    explain: Callable[[], str],
    process: subprocess.Popen[Any] | None = None,
) -> None:
    """Poll ``condition`` until it holds; fail after ``within`` seconds, or at once if ``process``
    has exited."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline or (process is not None and process.poll() is not None):
            pytest.fail(explain())
        time.sleep(0.05)
