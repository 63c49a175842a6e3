"""Helpers shared by the catalogue tests: a local copy of the official HSDS 3.0 OpenAPI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

HSDS_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "hsds-3.0"
SCHEMA_URL = "https://raw.githubusercontent.com/openreferral/specification/3.0/schema/"
MINI_CATALOG = Path(__file__).parent / "data" / "catalog_mini"


def local_openapi(tmp: Path) -> Path:
    """A temporary copy of the official ``openapi.json`` whose schema addresses point at local files.

    One fix is applied, the one upstream made after 3.0 (openreferral/specification PR #574):
    ``GET /service_at_locations/{id}`` returns a ``service_at_location``, not a ``service``.
    """
    target = tmp / "hsds-schema"
    shutil.copytree(HSDS_DIR / "schema", target)
    spec = json.loads((target / "openapi.json").read_text("utf-8"))
    sal = spec["paths"]["/service_at_locations/{id}"]["get"]["responses"]["200"]["content"][
        "application/json"
    ]
    sal["schema"]["$ref"] = SCHEMA_URL + "compiled/service_at_location.json"
    text = json.dumps(spec).replace(SCHEMA_URL, "./")
    path = target / "openapi.local.json"
    path.write_text(text, "utf-8")
    return path
