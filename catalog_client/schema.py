"""Offline validation against the official HSDS 3.0 JSON Schemas (vendored in ``hsds_schema/``).

The schemas refer to each other by their GitHub address; a ``referencing`` registry maps that
address to the local files, so validation never touches the network. Records edited by hand
(console upkeep) go through here before the bot may show them.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SCHEMA_DIR = Path(__file__).with_name("hsds_schema")
SCHEMA_BASE_URL = "https://raw.githubusercontent.com/openreferral/specification/3.0/schema/"


class InvalidRecord(ValueError):
    """A record that does not conform to HSDS 3.0. ``errors`` are short, path-prefixed messages."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors[:5]))
        self.errors = errors


def _retrieve(uri: str) -> Resource[Any]:
    if not uri.startswith(SCHEMA_BASE_URL):
        raise LookupError(f"schema outside HSDS 3.0: {uri}")
    name = uri.removeprefix(SCHEMA_BASE_URL)
    path = (SCHEMA_DIR / name).resolve()
    if SCHEMA_DIR.resolve() not in path.parents:
        raise LookupError(f"schema outside HSDS 3.0: {uri}")
    return Resource.from_contents(json.loads(path.read_text("utf-8")), default_specification=DRAFT202012)


@lru_cache(maxsize=16)
def validator(object_name: str) -> Draft202012Validator:
    """A compiled validator for one HSDS object ("service", "organization", "taxonomy_term"…)."""
    registry: Registry[Any] = Registry(retrieve=_retrieve)  # type: ignore[call-arg]
    return Draft202012Validator({"$ref": f"{SCHEMA_BASE_URL}{object_name}.json"}, registry=registry)


def errors_of(record: Any, object_name: str = "service") -> list[str]:
    """Every schema error of ``record`` as "path: message", empty when the record is valid."""
    out = []
    for err in sorted(validator(object_name).iter_errors(record), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in err.absolute_path) or "(record)"
        out.append(f"{where}: {err.message[:200]}")
    return out


def check(record: Any, object_name: str = "service") -> None:
    """Raise ``InvalidRecord`` unless ``record`` is a valid HSDS 3.0 ``object_name``."""
    errors = errors_of(record, object_name)
    if errors:
        raise InvalidRecord(errors)
