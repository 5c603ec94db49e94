"""Every integer a client can put in a path or query string is bounded in the API contract, so none can
overflow a database column (a 500) and ``?limit=-1`` cannot mean "everything"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flashport.app import create_app
from flashport.settings import Settings


def _integer_schemas(schema: dict[str, Any]) -> list[dict[str, Any]]:
    if schema.get("type") == "integer":
        return [schema]
    return [s for option in schema.get("anyOf", []) for s in _integer_schemas(option)]


def test_every_integer_path_and_query_parameter_has_both_bounds(tmp_path: Path) -> None:
    spec = create_app(Settings(env="test", data_dir=tmp_path)).openapi()
    unbounded = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                for schema in _integer_schemas(parameter.get("schema", {})):
                    if "maximum" not in schema or (
                        "minimum" not in schema and "exclusiveMinimum" not in schema
                    ):
                        unbounded.append(f"{method.upper()} {path} {parameter['name']}")
    assert unbounded == []
    assert len(spec["paths"]) > 40
