"""scripts/audit-deps.py: a distribution pip-audit skipped counts as audited only when PyPI's project
JSON speaks of the very version installed (the latest release), and its vulnerabilities fail the run."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

REAL_CLIENT = httpx.AsyncClient  # the script's is replaced by a mock in one test
SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "audit-deps.py"


@pytest.fixture(scope="module")
def audit() -> ModuleType:
    spec = importlib.util.spec_from_file_location("audit_deps", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def pypi(projects: dict[str, dict[str, Any]]) -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        name = request.url.path.split("/")[2]
        if name not in projects:
            return httpx.Response(404)
        return httpx.Response(200, json=projects[name])

    return REAL_CLIENT(transport=httpx.MockTransport(handler))


PROJECTS = {
    "safe": {"info": {"version": "2.0"}, "vulnerabilities": []},
    "leaky": {
        "info": {"version": "1.4"},
        "vulnerabilities": [
            {"id": "PYSEC-1", "aliases": ["CVE-1"], "withdrawn": None},
            {"id": "PYSEC-2", "aliases": [], "withdrawn": "2025-01-01T00:00:00"},
        ],
    },
}


async def test_only_the_latest_release_is_audited_through_the_project_json(audit: ModuleType) -> None:
    async with pypi(PROJECTS) as client:
        assert await audit.latest_release_audit(client, "safe", "2.0") == []
        assert await audit.latest_release_audit(client, "safe", "1.9") is None, "older: not audited"
        assert await audit.latest_release_audit(client, "leaky", "1.4") == ["PYSEC-1"], "withdrawn ignored"
        assert await audit.latest_release_audit(client, "unknown", "1.0") is None


async def test_skipped_distributions_are_sorted_into_audited_found_and_not_audited(
    audit: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = audit.Result()
    skipped = [
        {"name": "safe", "version": "2.0"},
        {"name": "leaky", "version": "1.4"},
        {"name": "safe-old", "version": "0.1"},
    ]
    monkeypatch.setattr(audit.httpx, "AsyncClient", lambda **_: pypi(PROJECTS))
    await audit.audit_skipped(skipped, result)
    assert sorted(result.audited) == ["leaky", "safe"]
    assert result.found == [("leaky", "1.4", "PYSEC-1")]
    assert result.not_audited == ["safe-old 0.1"]


def test_an_ignored_vulnerability_is_matched_by_any_alias(audit: ModuleType) -> None:
    assert audit.vuln_ids({"id": "PYSEC-1", "aliases": ["CVE-1", "GHSA-x"]}) == {"PYSEC-1", "CVE-1", "GHSA-x"}
