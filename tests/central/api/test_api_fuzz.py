"""The HTTP API fuzzed from its own OpenAPI schema with schemathesis, in process (ASGI, no network): valid
and invalid parameters and bodies for every operation, as an admin (who reaches every route). No reply may
be a 500, and every JSON reply must parse as strict JSON (no NaN, valid UTF-8).

Three valid and three invalid requests per operation by default, the same ones every run (derandomized);
`-m reliability` runs 60 + 60 random ones per operation on SQLite and on PostgreSQL (DOORLINE_FUZZ_EXAMPLES,
_LONG_EXAMPLES).

schemathesis' own pytest plugin (`schemathesis.pytest`) does not run under pytest 9, so each operation's
case strategy (`APIOperation.as_strategy`) drives a plain hypothesis test here."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode

from central.app import create_app
from central.settings import CentralSettings
from testkit.postgres import fresh_database

from .conftest import Env, detected_case, open_env

EXAMPLES = int(os.environ.get("DOORLINE_FUZZ_EXAMPLES", "3"))
LONG_EXAMPLES = int(os.environ.get("DOORLINE_FUZZ_LONG_EXAMPLES", "60"))


@pytest.fixture(scope="module")
def fuzz_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("fuzz")
    for env in open_env(tmp, f"sqlite:///{tmp / 'doorline.db'}"):
        detected_case(env, "s1")  # a shop, a case, an event and a stored JPEG for the fuzzer to stumble on
        yield env


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def long_env(request, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """The long run on both back-ends: PostgreSQL refuses what SQLite stores (NUL characters, say)."""
    tmp = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    with ExitStack() as stack:
        url = f"sqlite:///{tmp / 'doorline.db'}"
        if request.param == "postgresql":  # a fresh database on the run's PostgreSQL, dropped afterwards
            url = stack.enter_context(fresh_database(request.getfixturevalue("pg_admin_url"), prefix="doorline_fuzz"))
        for env in open_env(tmp, url):
            detected_case(env, "s1")
            yield env


def _operation_labels() -> list[str]:
    """Every operation of the schema, known at collection time (the schema needs no database)."""
    app = create_app(CentralSettings(secret_key=secrets.token_urlsafe(48), database_url="sqlite://",
                                     ingest_enabled=False), session_factory=None, store=object())
    return [f"{method.upper()} {path}" for path, ops in app.openapi()["paths"].items() for method in ops]


OPERATIONS = _operation_labels()


@pytest.fixture(scope="module")
def api_schema(fuzz_env: Env):
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_env.client.app)
    schema.config.generation.update(allow_x00=True)
    return schema


def strictly_serialisable(ctx, response, case) -> bool | None:
    """A JSON reply parses as strict JSON from valid UTF-8: no NaN/Infinity, no lone surrogates."""
    media = response.headers.get("content-type", [""])
    media = (media[0] if isinstance(media, list) else media).split(";")[0].strip()
    if response.content and (media == "application/json" or media.endswith("+json")):  # 204s have no body
        text = response.content.decode("utf-8")  # raises on invalid UTF-8

        def refuse(name: str) -> None:
            raise AssertionError(f"{name} in a JSON reply")

        json.loads(text, parse_constant=refuse)
    return None


def fuzz(schema, env: Env, label: str, examples: int, *, derandomize: bool) -> int:
    """Run `examples` valid and `examples` invalid requests against one operation; returns how many ran."""
    method, path = label.split(" ", 1)
    operation = schema[path][method]
    ran = 0

    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=examples, deadline=None, derandomize=derandomize, database=None,
                  suppress_health_check=list(HealthCheck), phases=[Phase.generate])
        def one(case) -> None:
            nonlocal ran
            # minted per case: a fuzzed POST /api/auth/logout revokes the tokens issued before it; the
            # fuzzer's own Authorization values are dropped so that the admin's reaches every route
            case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
            response = case.call(headers=env.login("admin"))
            case.validate_response(response, checks=[not_a_server_error, strictly_serialisable])
            ran += 1

        try:
            one()
        except Unsatisfiable:
            if mode is GenerationMode.POSITIVE:
                raise
            # nothing to make invalid: an operation without parameters or body
    return ran


@pytest.mark.slow  # ~40 s for all operations on a busy 2-core machine
@pytest.mark.parametrize("label", OPERATIONS)
def test_no_operation_answers_500_or_unserialisable(label: str, api_schema, fuzz_env: Env) -> None:
    assert fuzz(api_schema, fuzz_env, label, EXAMPLES, derandomize=True) > 0


@pytest.fixture(scope="module")
def long_schema(long_env: Env):
    schema = schemathesis.openapi.from_asgi("/openapi.json", long_env.client.app)
    schema.config.generation.update(allow_x00=True)
    return schema


@pytest.mark.reliability
@pytest.mark.parametrize("label", OPERATIONS)
def test_no_operation_answers_500_or_unserialisable_long(label: str, long_schema, long_env: Env) -> None:
    assert fuzz(long_schema, long_env, label, LONG_EXAMPLES, derandomize=False) > 0


def test_the_fuzzer_would_see_a_500(tmp_path: Path) -> None:
    """The harness can fail: a route that raises is caught by the same run."""
    from fastapi import APIRouter

    for env in open_env(tmp_path, f"sqlite:///{tmp_path / 'x.db'}"):
        broken = APIRouter()

        @broken.get("/api/broken")
        def boom(n: int) -> dict:
            if n > 3:
                raise RuntimeError(f"boom {n}")
            return {"n": n}

        env.client.app.include_router(broken)
        env.client.app.openapi_schema = None
        schema = schemathesis.openapi.from_asgi("/openapi.json", env.client.app)
        with pytest.raises(Exception) as failed:
            fuzz(schema, env, "GET /api/broken", 20, derandomize=True)
        assert "boom" in str(failed.value) or "500" in str(failed.value)
