"""Run pip-audit on this virtualenv and say plainly what was and was not audited.

pip-audit asks a vulnerability service about each installed distribution (PyPI's per-release JSON,
or OSV). Where neither answers, pip-audit skips the distribution and still exits 0, which would read
as "no known vulnerabilities" although nothing was checked. This wrapper fails on any known
vulnerability, and when nothing could be audited it says so loudly; with AUDIT_STRICT=1 that is a
failure too (use it wherever the service is reachable).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

# Known vulnerabilities accepted, each with its reason: "ID": "why it does not apply".
IGNORED: dict[str, str] = {}


def main() -> int:
    bindir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "audit.json"
        cmd = [str(bindir / "pip-audit"), "--skip-editable", "--progress-spinner", "off", "-f", "json"]
        cmd += ["-o", str(report)]
        for vuln in IGNORED:
            cmd += ["--ignore-vuln", vuln]
        run = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603 - fixed argv
        if not report.exists():
            print(run.stdout + run.stderr, file=sys.stderr)
            return run.returncode or 1
        deps = json.loads(report.read_text("utf-8"))["dependencies"]
    audited = [d for d in deps if "skip_reason" not in d]
    found = [(d["name"], d["version"], v["id"]) for d in audited for v in d.get("vulns", [])]
    for name, version, vuln in found:
        print(f"pip-audit: {name} {version}: {vuln}", file=sys.stderr)
    print(f"pip-audit: {len(audited)} of {len(deps)} distributions audited, {len(found)} vulnerabilities")
    if found:
        return 1
    if len(audited) < len(deps):
        print(
            f"pip-audit: WARNING {len(deps) - len(audited)} distributions NOT audited: "
            "no vulnerability service answered (PyPI per-release JSON or OSV).",
            file=sys.stderr,
        )
        if os.environ.get("AUDIT_STRICT") == "1":
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
