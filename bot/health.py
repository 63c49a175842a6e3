"""Liveness and readiness probes for orchestrators and the reverse proxy."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

router = APIRouter(tags=["salute"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Alive: the process answers."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """Ready: the database answers; Rasa and the catalogue are reported (degraded, not down, without)."""
    state = request.app.state
    checks: dict[str, str] = {}
    data_as_of: str | None = None
    try:
        async with state.db_engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception:  # noqa: BLE001
        checks["database"] = "down"
    try:
        checks["rasa"] = "ok" if await state.nlu.ready() else "down"
    except Exception:  # noqa: BLE001
        checks["rasa"] = "down"
    try:
        status = await state.catalog.status()
        checks["catalog"] = status.source
        data_as_of = status.data_as_of.isoformat() if status.data_as_of else None
    except Exception:  # noqa: BLE001
        checks["catalog"] = "down"
    ready = checks["database"] == "ok"
    # How old the catalogue is: when the HSDS API is down the snapshot's age tells how stale it may be.
    body = {"ready": ready, "checks": checks, "catalog_data_as_of": data_as_of}
    return JSONResponse(body, status_code=200 if ready else 503)
