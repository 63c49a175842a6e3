"""schemathesis against the app's own OpenAPI document: web-chat REST, HSDS API, console JSON API.

The real app (``create_app``, lifespan started once) on the real PostgreSQL, in-process (ASGI), with
the fake NLU. Every operation gets requests that fit its schema and requests that do not, both
anonymous and with valid credentials (a web-chat token and its sender, a facilitator's session
cookie), so the handlers behind authentication are reached too. Checks: no server error, the
declared content type and response schema, and every error answered as JSON with an Italian
``detail``.

Bounded and repeatable: ``derandomize=True``, a fixed ``max_examples`` per operation and mode.
Left out: ``status_code_conformance`` (413 for a long message and 429 from the rate limits are
real answers not listed on every operation), and the operations that end a session (logout, the
conversation's erasure), which are fuzzed with throw-away credentials instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from bot.db import make_engine, make_sessionmaker
from tests.fixtures_chat import FakeNLU, chat_settings, schema_from_models
from tests.fixtures_db import drop_postgres_database, make_postgres_database
from tests.handoff_helpers import PASSWORD, make_case, make_facilitator, make_team

pytestmark = pytest.mark.postgres

EXAMPLES = 8
SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
ENDS_A_SESSION = {("POST", "/api/logout"), ("DELETE", "/webhooks/rest/conversation")}


@dataclass
class Fuzzed:
    app: Any
    schema: Any
    client: Any  # schemathesis' in-process client (lifespan started)
    sender: str
    token: str
    cookies: dict[str, str]
    handoff_ids: list[int]

    def fresh_chat(self) -> tuple[str, str]:
        r = self.client.post("/webhooks/rest/session")
        assert r.status_code == 200, r.text
        return r.json()["sender"], r.json()["token"]


async def _prepare(url: str) -> list[int]:
    """Tables, a facilitator (admin, so every case is hers to see) and three waiting cases."""
    engine = make_engine(url)
    await schema_from_models(engine)
    async with make_sessionmaker(engine)() as session:
        team = await make_team(session, "Tutti", is_default=True)
        await make_facilitator(session, "giulia", [team], role="admin")
        ids = [(await make_case(session)).id for _ in range(3)]
        await session.commit()
    await engine.dispose()
    return ids


@pytest.fixture(scope="module")
def fuzzed() -> Iterator[Fuzzed]:
    from bot.app import create_app

    url = make_postgres_database()
    try:
        handoff_ids = asyncio.run(_prepare(url))
        app = create_app(chat_settings(url), nlu=FakeNLU(), db_engine=make_engine(url))
        app.state.sse_keepalive = 0.05
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        with asgi.get_client(cast(Any, app)) as client:
            r = client.post("/webhooks/rest/session")
            sender, token = r.json()["sender"], r.json()["token"]
            login = client.post("/api/login", json={"username": "giulia", "password": PASSWORD})
            assert login.status_code == 200, login.text
            cookies = {k: v or "" for k, v in login.cookies.items()}
            yield Fuzzed(app, schema, client, sender, token, cookies, handoff_ids)
    finally:
        asgi.shutdown_lifespans()
        drop_postgres_database(url)


def _constrained(schema: dict[str, Any]) -> bool:
    """Whether some value breaks this schema (any text fits a bare string: nothing to fuzz "negatively")."""
    options = schema.get("anyOf", [schema])
    return not any(o.get("type") == "string" and len(set(o) - {"type", "title"}) == 0 for o in options)


def _cases() -> list[tuple[str, str, GenerationMode]]:
    """Every operation with valid input; those whose input can be invalid also with invalid input."""
    from bot.app import create_app
    from bot.settings import Settings

    spec = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:")).openapi()
    out = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            out.append((method.upper(), path, GenerationMode.POSITIVE))
            if op.get("requestBody") or any(
                _constrained(p.get("schema", {})) for p in op.get("parameters", [])
            ):
                out.append((method.upper(), path, GenerationMode.NEGATIVE))
    return out


CASES = _cases()


def _italian_error(response: Any) -> None:
    """Errors are JSON with a non-empty Italian ``detail``: no stack trace, no English 'Not Found'."""
    assert response.status_code < 500, f"HTTP {response.status_code}: {response.text[:300]}"
    assert "Traceback" not in response.text
    if response.status_code < 400:
        return
    ctype = response.headers.get("content-type") or [""]
    ctype = ctype[0] if isinstance(ctype, list) else ctype
    assert ctype.startswith("application/json"), response.text[:200]
    detail = response.json().get("detail")
    assert isinstance(detail, str) and detail.strip(), response.text[:200]
    assert detail not in ("Not Found", "Method Not Allowed", "Unauthorized", "Forbidden"), detail


@pytest.mark.parametrize(("method", "path", "mode"), CASES, ids=[f"{m} {p} {g.value}" for m, p, g in CASES])
def test_no_server_error_and_italian_json_errors(
    fuzzed: Fuzzed, method: str, path: str, mode: GenerationMode
) -> None:
    operation = fuzzed.schema[path][method]
    webchat = path.startswith("/webhooks/rest")
    stream = path == "/webhooks/rest/stream"

    cases = operation.as_strategy(generation_mode=mode)
    if "{handoff_id}" in path:  # random ids find no case: real ones reach the handlers' logic
        real = [
            operation.as_strategy(generation_mode=mode, path_parameters={"handoff_id": i})
            for i in fuzzed.handoff_ids
        ]
        cases = st.one_of(cases, *real)

    @given(case=cases, authorised=st.booleans())
    @SETTINGS
    def check(case: Any, authorised: bool) -> None:
        headers: dict[str, str] = {}
        cookies: dict[str, str] = {}
        if authorised:
            sender, token = (
                fuzzed.fresh_chat() if (method, path) in ENDS_A_SESSION else (fuzzed.sender, fuzzed.token)
            )
            if webchat:
                headers["Authorization"] = f"Bearer {token}"
                if isinstance(case.body, dict) and "sender" in case.body:
                    case.body["sender"] = sender
                if isinstance(case.query, dict) and "sender" in case.query:
                    case.query["sender"] = sender
            elif (method, path) not in ENDS_A_SESSION:
                cookies = dict(fuzzed.cookies)
        # The push stream never ends by design: what it sent in half a second is checked.
        response = case.call(headers=headers, cookies=cookies, timeout=0.5 if stream else 30)
        case.validate_response(
            response,
            checks=[not_a_server_error, content_type_conformance, response_schema_conformance],
        )
        _italian_error(response)

    try:
        check()
    except Unsatisfiable:
        # Nothing can be invalid here (say, a free-text path id): the positive run covers it.
        assert mode is GenerationMode.NEGATIVE
