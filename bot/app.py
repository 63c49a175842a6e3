"""The one ASGI app: web chat, Telegram webhook, facilitator console, HSDS and JSON APIs.

Every long-lived object (database engine, HTTP clients, NLU client, catalogue, broker, dialogue engine,
the Telegram Application) is created in the lifespan and kept on ``app.state``; nothing is global.
Tests pass fakes through ``create_app(..., **overrides)``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot.db import make_engine, make_sessionmaker
from bot.settings import Settings

log = logging.getLogger("bussola.app")


def create_app(settings: Settings | None = None, **overrides: Any) -> FastAPI:
    """Build the app. ``overrides`` replace lifespan-built objects by name (nlu, catalog, broker...)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            await _start(app, settings, overrides, stack)
            yield

    app = FastAPI(
        title="Bussola",
        version="0.1.0",
        description="Front door to social services of the Città metropolitana di Torino.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    _install_error_handlers(app)
    _document_errors(app)
    _include_routers(app)
    _install_middleware(app, settings)
    return app


def _install_middleware(app: FastAPI, settings: Settings) -> None:
    """Outermost first: headers on every answer, then size and rate limits, then CORS for the widget."""
    from starlette.middleware.cors import CORSMiddleware

    from bot.security import BodySizeLimit, RateLimit, SecurityHeaders, TokenBuckets

    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.allowed_origin_list,
        allow_methods=["GET", "POST", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
        max_age=600,
    )
    app.add_middleware(
        RateLimit,
        per_ip=TokenBuckets(settings.rate_limit_ip_per_minute, burst=60),
        per_session=TokenBuckets(settings.rate_limit_session_per_minute, burst=15),
    )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(
        SecurityHeaders,
        allowed_origins=settings.allowed_origin_list,
        https=settings.public_url.startswith("https://"),
    )


async def _start(app: FastAPI, settings: Settings, overrides: dict[str, Any], stack: AsyncExitStack) -> None:
    from bot.engine import DialogueEngine
    from bot.migrate import migrate
    from bot.pubsub import make_broker

    state = app.state
    db_engine = overrides.get("db_engine") or make_engine(settings.database_url)
    stack.push_async_callback(db_engine.dispose)
    await migrate(db_engine)
    state.db_engine = db_engine
    state.sessionmaker = make_sessionmaker(db_engine)

    http = overrides.get("http") or httpx.AsyncClient(timeout=httpx.Timeout(10.0))
    stack.push_async_callback(http.aclose)
    state.http = http

    broker = overrides.get("broker") or await make_broker(settings.database_url)
    stack.push_async_callback(broker.close)
    state.broker = broker

    nlu = overrides.get("nlu")
    if nlu is None:
        from nlu.client import NLUClient

        nlu = NLUClient(settings.rasa_urls, token=settings.rasa_token, timeout=settings.rasa_timeout)
        stack.push_async_callback(nlu.aclose)
    from bot.metrics import InstrumentedDialogue, InstrumentedNLU, Metrics

    state.metrics = Metrics()
    state.nlu = InstrumentedNLU(nlu, state.metrics)

    await _start_catalog(state, settings, overrides, http, stack)

    state.dialogue = InstrumentedDialogue(
        overrides.get("dialogue")
        or DialogueEngine(
            sessionmaker=state.sessionmaker,
            nlu=state.nlu,
            catalog=state.catalog,
            broker=state.broker,
            settings=settings,
        ),
        state.metrics,
    )
    await _start_handoff(state, stack)
    if overrides.get("retention", True):
        from bot.retention import RetentionJob

        retention = RetentionJob(state.sessionmaker, settings)
        await retention.start()
        stack.push_async_callback(retention.stop)
    await _start_telegram(app, settings, overrides, stack)


async def _start_catalog(
    state: Any, settings: Settings, overrides: dict[str, Any], http: Any, stack: AsyncExitStack
) -> None:
    from catalog_client.client import make_catalog

    if "catalog" in overrides:
        state.catalog = overrides["catalog"]
        state.catalog_store = overrides.get("catalog_store") or getattr(state.catalog, "store", None)
        return
    catalog = make_catalog(settings, http)
    state.catalog = catalog
    state.catalog_store = getattr(catalog, "store", None)
    if hasattr(catalog, "aclose"):
        stack.push_async_callback(catalog.aclose)


async def _start_handoff(state: Any, stack: AsyncExitStack) -> None:
    from handoff.background import BackgroundJobs, load_catalog_overrides

    if state.catalog_store is not None:
        await load_catalog_overrides(state.sessionmaker, state.catalog_store)
    jobs = BackgroundJobs(state)
    await jobs.start()
    stack.push_async_callback(jobs.stop)


async def _start_telegram(app: FastAPI, settings: Settings, overrides: dict[str, Any], stack: Any) -> None:
    app.state.telegram = None
    if not settings.telegram_token:
        log.info("TELEGRAM_TOKEN not set: running with the web chat only")
        return
    from bot.telegram import TelegramChannel

    channel = TelegramChannel(app.state, settings, **overrides.get("telegram_options", {}))
    await channel.start()
    stack.push_async_callback(channel.stop)
    app.state.telegram = channel


def _include_routers(app: FastAPI) -> None:
    """Every part's router, explicitly: a broken import must fail loudly, not hide a feature."""
    from bot import health, metrics, privacy, service_page, telegram_webhook, webchat, widget
    from catalog_client import api as hsds_api
    from handoff import api as handoff_api
    from handoff import console

    for router in (
        health.router,
        metrics.router,
        webchat.router,
        privacy.router,
        widget.router,
        telegram_webhook.router,
        service_page.router,
    ):
        app.include_router(router)
    app.include_router(hsds_api.router, prefix="/hsds")
    app.include_router(handoff_api.router, prefix="/api")
    app.include_router(console.router, prefix="/console")


VALIDATION_ERROR_SCHEMA: dict[str, Any] = {
    "title": "HTTPValidationError",
    "type": "object",
    "required": ["error", "detail"],
    "properties": {
        "error": {"type": "string", "description": "machine code, e.g. invalid_request"},
        "detail": {"type": "string", "description": "what went wrong, in Italian"},
        "fields": {"type": "array", "items": {"type": "string"}, "description": "the invalid inputs"},
    },
}


def _document_errors(app: FastAPI) -> None:
    """The OpenAPI document describes the 422 body the handler below sends, not FastAPI's default one."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        spec = build()
        schemas = spec.get("components", {}).get("schemas", {})
        if "HTTPValidationError" in schemas:
            schemas["HTTPValidationError"] = VALIDATION_ERROR_SCHEMA
        return spec

    app.openapi = openapi  # type: ignore[method-assign]


def _install_error_handlers(app: FastAPI) -> None:
    """Every error is JSON with an Italian ``detail`` and a machine ``error`` code; never a trace."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else "Richiesta non valida."
        if exc.status_code == 400 and not isinstance(exc.detail, dict):
            detail = "La richiesta non è valida."  # FastAPI's own 400s (an unreadable body) are in English
        code = {
            400: "invalid_request",
            401: "unauthorized",
            403: "forbidden",
            404: "not_found",
            405: "method_not_allowed",
        }
        body = {"error": code.get(exc.status_code, "http_error"), "detail": detail}
        if isinstance(exc.detail, dict):
            body.update(exc.detail)
        return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [".".join(str(p) for p in e.get("loc", ())) for e in exc.errors()]
        return JSONResponse(
            {"error": "invalid_request", "detail": "La richiesta non è valida.", "fields": fields},
            status_code=422,
        )

    @app.exception_handler(DBAPIError)
    async def database_down(_request: Request, exc: DBAPIError) -> JSONResponse:
        """The database is restarting or unreachable: a clean, kind 503; the pool recovers by itself."""
        log.warning("database unavailable: %s", type(exc.orig).__name__ if exc.orig else type(exc).__name__)
        return JSONResponse(
            {
                "error": "unavailable",
                "detail": "Scusa, in questo momento non riesco a salvare i messaggi. Riprova tra poco.",
            },
            status_code=503,
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error: %s", type(exc).__name__)
        return JSONResponse(
            {"error": "internal", "detail": "Qualcosa non ha funzionato. Riprova tra poco."}, status_code=500
        )
