"""Run pip-audit on this virtualenv and say plainly what was and was not audited.

pip-audit asks a vulnerability service about each installed distribution: PyPI's per-release JSON
(``/pypi/<name>/<version>/json``) or OSV. Where neither answers, pip-audit skips the distribution and
still exits 0, which would read as "no known vulnerabilities" although nothing was checked.

Some networks (ours among them) reach PyPI's project JSON (``/pypi/<name>/json``) but not the
per-release one. The project JSON lists the known vulnerabilities of the *latest* release, so for a
distribution installed at its latest release it is a real audit: this wrapper uses it for what
pip-audit had to skip. A distribution older than its latest release stays "not audited", by name.

Fails on any known vulnerability. When something could not be audited it says so loudly; with
AUDIT_STRICT=1 that is a failure too (use it wherever the per-release service is reachable).
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

# Known vulnerabilities accepted, each with its reason: "ID": "why it does not apply".
IGNORED: dict[str, str] = {}
PYPI_PROJECT_JSON = "https://pypi.org/pypi/{name}/json"


@dataclass
class Result:
    audited: list[str] = field(default_factory=list)
    not_audited: list[str] = field(default_factory=list)
    found: list[tuple[str, str, str]] = field(default_factory=list)


def pip_audit() -> list[dict[str, Any]]:
    """pip-audit's JSON list of dependencies (each with ``vulns``, or a ``skip_reason``)."""
    bindir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "audit.json"
        cmd = [str(bindir / "pip-audit"), "--skip-editable", "--progress-spinner", "off", "-f", "json"]
        cmd += ["-o", str(report)]
        for vuln in IGNORED:
            cmd += ["--ignore-vuln", vuln]
        run = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603 - fixed argv
        if not report.exists():
            raise RuntimeError(run.stdout + run.stderr)
        deps: list[dict[str, Any]] = json.loads(report.read_text("utf-8"))["dependencies"]
        return deps


def installed_versions() -> dict[str, str]:
    """Name (normalised as pip-audit prints it) to version, for this interpreter's distributions."""
    out = {}
    for dist in importlib.metadata.distributions():
        name = re.sub(r"[-_.]+", "-", dist.metadata["Name"] or "").lower()
        out[name] = dist.version
    return out


def vuln_ids(vuln: dict[str, Any]) -> set[str]:
    return {str(vuln.get("id", ""))} | {str(a) for a in vuln.get("aliases") or ()}


async def latest_release_audit(client: httpx.AsyncClient, name: str, version: str) -> list[str] | None:
    """Vulnerability ids of ``name`` if ``version`` is its latest release on PyPI, else None."""
    try:
        r = await client.get(PYPI_PROJECT_JSON.format(name=name))
    except httpx.HTTPError:
        return None
    if r.status_code != 200:
        return None
    data = r.json()
    if str(data.get("info", {}).get("version")) != version:
        return None
    found = []
    for vuln in data.get("vulnerabilities") or ():
        if not vuln.get("withdrawn") and not vuln_ids(vuln) & set(IGNORED):
            found.append(str(vuln.get("id")))
    return found


async def audit_skipped(skipped: list[dict[str, Any]], result: Result) -> None:
    limit = asyncio.Semaphore(8)

    async def one(client: httpx.AsyncClient, dep: dict[str, Any]) -> None:
        async with limit:
            ids = await latest_release_audit(client, dep["name"], dep["version"])
        if ids is None:
            result.not_audited.append(f"{dep['name']} {dep['version']}")
            return
        result.audited.append(dep["name"])
        result.found += [(dep["name"], dep["version"], i) for i in ids]

    async with httpx.AsyncClient(timeout=20, follow_redirects=True) as client:
        await asyncio.gather(*(one(client, d) for d in skipped))


def main() -> int:
    try:
        deps = pip_audit()
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    result = Result()
    versions = installed_versions()
    skipped = []
    for d in deps:
        if "editable" in d.get("skip_reason", ""):
            continue  # our own package, not a dependency
        d.setdefault("version", versions.get(d["name"], "?"))
        if "skip_reason" not in d:
            result.audited.append(d["name"])
            result.found += [(d["name"], d["version"], v["id"]) for v in d.get("vulns", [])]
        else:
            skipped.append(d)
    asyncio.run(audit_skipped(skipped, result))
    for name, version, vuln in result.found:
        print(f"pip-audit: {name} {version}: {vuln}", file=sys.stderr)
    audited, found = len(result.audited), len(result.found)
    total = audited + len(result.not_audited)
    print(f"pip-audit: {audited} of {total} distributions audited, {found} vulnerabilities")
    if result.found:
        return 1
    if result.not_audited:
        print(
            f"pip-audit: WARNING not audited (older than their latest release, and PyPI's per-release "
            f"data did not answer): {', '.join(sorted(result.not_audited))}",
            file=sys.stderr,
        )
        if os.environ.get("AUDIT_STRICT") == "1":
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
