"""PostgreSQL restarted under a running app: clean failures meanwhile, recovery by itself.

While the database is down every request either succeeds or gets a 503 JSON answer with a kind
Italian ``detail`` (the web chat shows it to the person): never a 500, never a stack trace. The
liveness probe stays up, the readiness probe says the database is down. When PostgreSQL is back the
same process serves again without a restart: the messages the person sent during the outage,
retried with their ``message_id``, are stored exactly once and answered, the console works, and the
web-chat stream that stayed open delivers what is written after the outage.

Why a private PostgreSQL cluster (initdb in a temporary folder, on its own port) rather than
restarting the machine's main cluster: other tests, and other people's test runs, use the main
cluster at the same time, and a restart would break them at random. It is the same PostgreSQL
server, and the restart is a real one (fast shutdown: every connection is cut).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import require
from tests.fixtures_proc import (
    ChatClient,
    Processes,
    SSEReader,
    api_login,
    audit_log,
    free_port,
    seed_team,
)

pytestmark = pytest.mark.postgres


def _pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return found[-1].parent if found else None


@dataclass
class PrivateCluster:
    bin: Path
    data: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def run(self, *argv: str) -> None:
        cmd = [str(self.bin / argv[0]), *argv[1:]]
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.data / "server.log")
        self.run("pg_ctl", "-D", str(self.data), "-o", opts, "-l", log, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self.run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")


@pytest.fixture
def private_postgres() -> Iterator[PrivateCluster]:
    pg_bin = _pg_bin()
    require(pg_bin is not None, "PostgreSQL server binaries not found under /usr/lib/postgresql")
    assert pg_bin is not None
    require(os.geteuid() != 0 or shutil.which("runuser") is not None, "runuser is needed as root")
    data = Path(tempfile.mkdtemp(prefix="bussola-pg-"))
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
    cluster = PrivateCluster(pg_bin, data, free_port())
    try:
        cluster.run("initdb", "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
        cluster.start()
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            cluster.stop("immediate")  # fails when it is already stopped
        shutil.rmtree(data, ignore_errors=True)


def check_clean(r: httpx.Response, seen: list[tuple[str, int]], what: str) -> None:
    """A 200, or a 503 in JSON with a machine code and a kind Italian sentence: nothing else."""
    seen.append((what, r.status_code))
    assert r.status_code in (200, 503), f"{what}: HTTP {r.status_code} {r.text[:300]}"
    assert "Traceback" not in r.text
    if r.status_code == 503:
        body = r.json()
        if what == "readyz":
            assert body["ready"] is False and body["checks"]["database"] == "down"
        else:
            assert body["error"] == "unavailable", body
            assert "Riprova tra poco" in body["detail"] or "riprova" in body["detail"].lower(), body


async def test_postgres_restart_fails_cleanly_then_recovers(
    procs: Processes, private_postgres: PrivateCluster
) -> None:
    pg = private_postgres
    rasa = procs.rasa().start()
    app = procs.app("app", pg.url, rasa.url).start()
    pid = app.pid
    await seed_team(pg.url, "Tutti", ["giulia"], default=True)
    seen: list[tuple[str, int]] = []
    async with httpx.AsyncClient(timeout=30) as http, httpx.AsyncClient(timeout=30) as fac:
        c = await ChatClient(http, [app.url]).start()
        await c.send("ciao")
        await c.send("cerco casa a Collegno")
        await api_login(fac, app.url, "giulia")
        last = max(r["message_id"] for rs in c.replies.values() for r in rs)

        async with SSEReader(http, app.url, c.token, after=last) as stream:
            pg.stop("fast")
            try:
                # Until every kind of request has been refused cleanly at least once.
                outage: list[str] = []
                kinds: set[str] = set()
                deadline = time.monotonic() + 60
                while kinds != {"webhook", "session", "history", "console", "readyz"}:
                    assert time.monotonic() < deadline, f"no clean refusal of {kinds}: {seen[-10:]}"
                    mid = f"outage-{len(outage)}"
                    body = {"sender": c.sender, "message": "cerco lavoro", "message_id": mid}
                    calls: dict[str, Any] = {
                        "webhook": http.post(f"{app.url}/webhooks/rest/webhook", json=body, headers=c.auth),
                        "session": http.post(f"{app.url}/webhooks/rest/session"),
                        "history": http.get(f"{app.url}/webhooks/rest/history", headers=c.auth),
                        "console": fac.get(f"{app.url}/api/handoffs"),
                        "readyz": http.get(f"{app.url}/readyz"),
                        "healthz": http.get(f"{app.url}/healthz"),
                    }
                    results = dict(zip(calls, await asyncio.gather(*calls.values()), strict=True))
                    for what, r in results.items():
                        check_clean(r, seen, what)
                        if r.status_code == 503:
                            kinds.add(what)
                    assert results["healthz"].status_code == 200
                    outage.append(mid)
                    if results["webhook"].status_code != 200:
                        await asyncio.sleep(0.05)
            finally:
                pg.start()

            # Back: the person's unanswered messages are sent again with their ids.
            for mid in outage:
                await c.send("cerco lavoro", message_id=mid)
            for path in ("/webhooks/rest/history", "/readyz"):
                assert (await http.get(app.url + path, headers=c.auth)).status_code == 200
            assert (await fac.get(f"{app.url}/api/handoffs")).status_code == 200
            fresh = await ChatClient(http, [app.url]).start()
            assert await fresh.send("ciao")

            # The stream stayed open through the outage and carries what was written after it.
            final = await c.send("grazie")
            ids = {r["message_id"] for r in final}
            await stream.wait_for(lambda m: m["message_id"] in ids, within=30)

    assert app.running and app.pid == pid
    assert "Traceback" not in app.log_text(), app.log_tail()
    assert 503 in {code for what, code in seen if what == "webhook"}
    audit = await audit_log(pg.url, [c])
    assert audit.stored == audit.sent == 3 + len(outage)
    assert audit.problems() == {}
