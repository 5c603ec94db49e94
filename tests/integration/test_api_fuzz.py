"""The whole HTTP API fuzzed from its own OpenAPI by Schemathesis, as each kind of caller.

Every operation gets a fixed number of generated requests (positive and negative: wrong types, out-of-range
numbers, missing fields) from a fixed seed, sent over real HTTP to a real server on PostgreSQL (the
stricter backend: NUL bytes, 64-bit integers), as an anonymous caller, a buyer, a supplier and an operator.
Each answer must not be a 5xx, must carry a status the operation documents, and must match its documented
schema. The run is bounded (``EXAMPLES`` per operation and role, no shrinking), so it costs the suite a
minute or two rather than growing with the API; docs/testing.md says how to run it longer by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from flashport.adapters.db import migrate
from flashport.app import create_app
from flashport.bootstrap import build_context, close_context
from flashport.domain.accounts import Role
from flashport.services.context import Context
from flashport.settings import Settings
from tests.conftest import _pg_admin, _pg_url
from tests.factories import auth, make_supplier, make_user
from tests.sale_builder import make_sale
from tests.servers import LoopThread, serving

# Valid and invalid requests per operation, by role: the operator reaches every operation's handler, the
# others mostly its guard, so they get fewer. FLASHPORT_FUZZ_EXAMPLES sets all four for a longer run.
EXAMPLES = {"anonymous": 2, "buyer": 3, "supplier": 2, "operator": 5}
if "FLASHPORT_FUZZ_EXAMPLES" in os.environ:
    EXAMPLES = dict.fromkeys(EXAMPLES, int(os.environ["FLASHPORT_FUZZ_EXAMPLES"]))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, dict[str, str]]]]:
    """A real server on a fresh PostgreSQL database with one live sale, and each role's headers."""
    if "postgres" not in os.environ.get("FLASHPORT_TEST_BACKENDS", "sqlite,postgres"):
        pytest.skip("the API fuzz runs on PostgreSQL only (FLASHPORT_TEST_BACKENDS has no postgres)")
    name = f"fp_fuzz_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    data_dir: Path = tmp_path_factory.mktemp("data-fuzz")
    settings = Settings(env="test", data_dir=data_dir, database_url=_pg_url(name), rate_limits=False)
    migrate.upgrade(settings)
    loop = LoopThread("fuzz-server", timeout=60)
    try:
        ctx = loop.enter(_context(settings))  # left last, after the server
        headers = loop.run(_callers(ctx))
        url = loop.enter(serving(create_app(ctx=ctx)))
        yield url, headers
    finally:
        loop.close()
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.asynccontextmanager
async def _context(settings: Settings) -> AsyncIterator[Context]:
    ctx = await build_context(settings)
    try:
        yield ctx
    finally:
        await close_context(ctx)


async def _callers(ctx: Context) -> dict[str, dict[str, str]]:
    await make_sale(ctx)
    supplier_id = await make_supplier(ctx)
    _, buyer = await make_user(ctx, Role.BUYER)
    _, supplier = await make_user(ctx, Role.SUPPLIER, supplier_id)
    _, operator = await make_user(ctx, Role.OPERATOR)
    return {"anonymous": {}, "buyer": auth(buyer), "supplier": auth(supplier), "operator": auth(operator)}


@pytest.fixture(scope="module")
def api_schema(fuzz_server: tuple[str, dict[str, dict[str, str]]]) -> Any:
    url, _ = fuzz_server
    return schemathesis.openapi.from_url(f"{url}/openapi.json")


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as http:
        http.trust_env = False
        yield http


def fuzz(schema: Any, url: str, headers: dict[str, str], http: requests.Session, examples: int) -> list[str]:
    """Every operation, ``examples`` valid then ``examples`` invalid requests; one entry per failure."""
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
            @hypothesis.settings(BOUNDED, max_examples=examples)
            def one(case: Any) -> None:
                response = case.call(base_url=url, headers=dict(headers), session=http, timeout=30)
                case.validate_response(response, checks=CHECKS)

            try:
                one()
            except hypothesis.errors.Unsatisfiable:  # nothing to make invalid (no parameters, no body)
                continue
            except (AssertionError, BaseExceptionGroup) as exc:  # failed checks: go on, report them all
                failures.append(f"{operation.label} ({mode}): {str(exc)[:1500]}")
    return failures


BOUNDED = hypothesis.settings(
    derandomize=True,  # the same requests every run: a failure in CI reproduces locally
    deadline=None,
    database=None,
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],  # no shrinking: bounded time
    suppress_health_check=list(hypothesis.HealthCheck),
)


@pytest.mark.slow
@pytest.mark.parametrize("role", list(EXAMPLES))
def test_no_operation_answers_a_5xx_or_breaks_its_documented_schema(
    role: str, api_schema: Any, fuzz_server: tuple[str, dict[str, dict[str, str]]], session: requests.Session
) -> None:
    url, headers = fuzz_server
    failures = fuzz(api_schema, url, headers[role], session, EXAMPLES[role])
    assert not failures, f"{len(failures)} operations failed as {role}:\n\n" + "\n\n".join(failures)
