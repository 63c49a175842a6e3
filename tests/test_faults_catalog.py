"""Catalogue API down: the bot keeps suggesting services from its snapshot, and says how old it is.

The app runs with ``CATALOG_URL`` pointing at a real HSDS 3.0 server (``bussola catalog serve``, i.e.
``create_hsds_app`` under uvicorn) serving a copy of the catalogue whose service names carry a
marker, so the suggestions show where their data came from (the bundled catalogue, the app's last
resort, has no marker). Then the HSDS server is stopped:

- the running app keeps suggesting the data it fetched;
- an app started while the API is down suggests from the snapshot written by the first fetch, and
  ``/readyz`` says ``snapshot`` with the time that data was fetched.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from catalog_client.store import BUNDLED_DATA_DIR
from tests.fixtures_proc import ChatClient, Processes, eventually

pytestmark = pytest.mark.postgres

MARK = " (dal catalogo remoto)"


def remote_copy(folder: Path) -> Path:
    """The bundled catalogue with every service name marked."""
    shutil.copytree(BUNDLED_DATA_DIR, folder)
    services = json.loads((folder / "services.json").read_text("utf-8"))
    for s in services:
        s["name"] += MARK
    (folder / "services.json").write_text(json.dumps(services, ensure_ascii=False), "utf-8")
    return folder


def suggestions(replies: list[dict[str, Any]]) -> str:
    kinds = [(r.get("custom") or {}).get("type") for r in replies]
    assert "services" in kinds, [r["text"][:80] for r in replies]
    return "\n".join(r["text"] for r in replies)


async def ask(http: httpx.AsyncClient, url: str) -> str:
    c = await ChatClient(http, [url]).start()
    return suggestions(await c.send("cerco casa a Collegno"))


async def test_catalogue_api_down_means_snapshot_with_its_age(
    procs: Processes, postgres_url: str, tmp_path: Path
) -> None:
    hsds = procs.hsds(remote_copy(tmp_path / "hsds")).start()
    rasa = procs.rasa().start()
    snapshot = tmp_path / "var" / "catalog-snapshot.json"
    env = {"catalog_url": hsds.url, "catalog_snapshot_path": str(snapshot), "catalog_cache_ttl": "1"}
    app = procs.app("app", postgres_url, rasa.url, **env).start()
    async with httpx.AsyncClient(timeout=30) as http:
        assert MARK in await ask(http, app.url)
        ready = (await http.get(app.url + "/readyz")).json()
        assert ready["checks"]["catalog"] == "remote"
        fetched = datetime.fromisoformat(ready["catalog_data_as_of"])

        async def written() -> bool:
            return snapshot.exists()

        await eventually(written, 15, "the snapshot is written after a fetch")

        hsds.stop()
        assert MARK in await ask(http, app.url)  # the running app keeps what it has

        app.stop()
        app.start()  # a cold start with the API down
        assert MARK in await ask(http, app.url)
        ready = (await http.get(app.url + "/readyz")).json()
        assert ready["ready"] is True and ready["checks"]["catalog"] == "snapshot"
        as_of = datetime.fromisoformat(ready["catalog_data_as_of"])
        written_at = datetime.fromisoformat(json.loads(snapshot.read_text("utf-8"))["fetched_at"])
        assert as_of == written_at and as_of >= fetched  # the age of the last good fetch
        assert "Traceback" not in app.log_text()
