"""POST /telegram/webhook: Telegram delivers updates here when PUBLIC_URL is set.

Every request must carry the secret token the webhook was registered with
(``X-Telegram-Bot-Api-Secret-Token``); anything else gets 403. The update is processed before the
answer, so a failure (say, the database restarting) returns 503 and Telegram delivers it again; a
redelivered update is recognised by its id and processed once.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

log = logging.getLogger("bussola.telegram.webhook")

router = APIRouter()
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name


def _error(status: int, code: str, detail: str) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail}, status_code=status)


@router.post("/telegram/webhook", include_in_schema=False)
async def telegram_webhook(request: Request) -> JSONResponse:
    channel: Any = getattr(request.app.state, "telegram", None)
    if channel is None or not getattr(channel, "webhook", False):
        return _error(404, "not_found", "Il canale Telegram non è attivo.")
    if not channel.secret_matches(request.headers.get(SECRET_HEADER)):
        log.warning("telegram webhook: wrong or missing secret token")
        return _error(403, "forbidden", "Accesso negato.")
    if not channel.ready.is_set():
        return _error(503, "unavailable", "Il canale Telegram si sta avviando.")
    try:
        data = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        return _error(400, "invalid_json", "Il corpo della richiesta non è JSON valido.")
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        return _error(400, "invalid_update", "Non è un aggiornamento di Telegram.")
    try:
        await channel.process_webhook(data)
    except Exception as exc:  # noqa: BLE001 - Telegram retries on a non-2xx answer
        log.error("telegram webhook update failed: %s", type(exc).__name__)
        return _error(503, "unavailable", "Riprova tra poco.")
    return JSONResponse({"ok": True})
