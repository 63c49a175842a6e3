"""A local copy of the last catalogue fetched from a remote HSDS API.

Written after every successful full fetch and read when the API is down at start-up, so that the
bot keeps suggesting services (and can say how old its data is) while the catalogue server is away.
The file is replaced atomically: a crash mid-write leaves the previous snapshot intact.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from catalog_client.store import parse_datetime

log = logging.getLogger(__name__)

FORMAT = "bussola-hsds-snapshot/1"


@dataclass(frozen=True, slots=True)
class Snapshot:
    fetched_at: datetime
    source_url: str
    payload: dict[str, Any]  # what CatalogStore.from_payload reads


def write_snapshot(
    path: str | Path, *, source_url: str, fetched_at: datetime, payload: Mapping[str, Any]
) -> None:
    """Write the snapshot atomically (temporary file in the same folder, then rename)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    document = {"format": FORMAT, "fetched_at": fetched_at.isoformat(), "source_url": source_url, **payload}
    fd, tmp = tempfile.mkstemp(prefix=".snapshot-", suffix=".json", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(document, fh, ensure_ascii=False, separators=(",", ":"))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_snapshot(path: str | Path) -> Snapshot | None:
    """The snapshot at ``path``, or None when there is none or it cannot be read."""
    file = Path(path)
    try:
        document = json.loads(file.read_text("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("catalogue snapshot unreadable (%s): ignored", type(exc).__name__)
        return None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        log.warning("catalogue snapshot of an unknown format: ignored")
        return None
    fetched_at = parse_datetime(document.get("fetched_at"))
    if fetched_at is None or not isinstance(document.get("services"), list):
        log.warning("catalogue snapshot incomplete: ignored")
        return None
    payload = {k: v for k, v in document.items() if k not in {"format", "fetched_at", "source_url"}}
    return Snapshot(fetched_at=fetched_at, source_url=str(document.get("source_url") or ""), payload=payload)
