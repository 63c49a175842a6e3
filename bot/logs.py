"""Structured JSON logs. Records carry event names and ids, never message text or personal data."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                out[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            out["exc_type"] = record.exc_info[0].__name__
        return json.dumps(out, ensure_ascii=False, default=str)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Libraries that would log SQL parameters or URLs (message text, tokens) at DEBUG stay quiet.
    for noisy in (
        "uvicorn.access",
        "httpx",
        "httpcore",
        "aiosqlite",
        "sqlalchemy.engine",
        "asyncpg",
        "telegram",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)
