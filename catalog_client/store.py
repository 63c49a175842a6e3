"""The catalogue in memory: HSDS records as published, their typed form and the matching index.

One ``CatalogStore`` backs both the bot's matching (``EmbeddedCatalog``) and the read-only HSDS API,
so a record a team fixes from the console (``replace_service``) is what the next search and the next
API call see. A store is built once (from the bundled JSON, a remote HSDS API or a snapshot) and then
changes only one service at a time; every change bumps ``version`` and ``modified_at``, which the
API turns into ETag and Last-Modified.
"""

from __future__ import annotations

import copy
import json
import logging
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from catalog_client import schema
from catalog_client.cards import Terms
from catalog_client.index import Index, ServiceEntry, build_entry
from catalog_client.models import Organization, Service, Taxonomy, TaxonomyTerm
from catalog_client.types import ServiceCard

log = logging.getLogger(__name__)

BUNDLED_DATA_DIR = Path(__file__).with_name("data")
_FILES = ("services", "organizations", "taxonomies", "taxonomy_terms")


def parse_datetime(value: Any) -> datetime | None:
    """An ISO date or date-time as an aware datetime (UTC when no zone is given); None if unreadable."""
    if not value or not isinstance(value, str):
        return None
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


class CatalogStore:
    """HSDS services, organizations and taxonomies in memory, indexed for fast matching."""

    def __init__(
        self,
        *,
        services: Iterable[Mapping[str, Any]],
        organizations: Iterable[Mapping[str, Any]] = (),
        taxonomies: Iterable[Mapping[str, Any]] = (),
        taxonomy_terms: Iterable[Mapping[str, Any]] = (),
        data_as_of: datetime | None = None,
        sources: Iterable[str] = (),
    ) -> None:
        self.data_as_of = data_as_of
        self.sources = tuple(sources)
        self._organizations: dict[str, dict[str, Any]] = {}
        self._org_models: dict[str, Organization] = {}
        for raw in organizations:
            org = Organization.model_validate(raw)
            self._organizations[org.id] = dict(raw)
            self._org_models[org.id] = org
        self._taxonomies = {str(t["id"]): dict(t) for t in taxonomies if t.get("id")}
        self._terms = {str(t["id"]): dict(t) for t in taxonomy_terms if t.get("id")}
        self.terms = Terms(
            terms={k: TaxonomyTerm.model_validate(v) for k, v in self._terms.items()},
            taxonomies={k: Taxonomy.model_validate(v) for k, v in self._taxonomies.items()},
        )
        self._services: dict[str, dict[str, Any]] = {}
        self._models: dict[str, Service] = {}
        entries: list[ServiceEntry] = []
        for order, raw in enumerate(services):
            try:
                model = Service.model_validate(raw)
            except ValidationError as exc:
                # A remote server's bad record must not take the whole catalogue down.
                log.warning("skipping unreadable service record: %s", exc.errors()[:1])
                continue
            self._services[model.id] = dict(raw)
            self._models[model.id] = model
            entries.append(build_entry(model, self.terms, order, self._organization_name(model)))
        self.index = Index()
        self.index.rebuild(entries)
        self.version = 1
        self.instance = uuid.uuid4().hex[:12]
        self.modified_at = datetime.now(UTC).replace(microsecond=0)
        self._sal_cache: tuple[int, list[dict[str, Any]]] | None = None

    # ---- construction -------------------------------------------------------------------------

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> CatalogStore:
        """From ``{"services": [...], "organizations": [...], ..., "meta": {...}}`` (a snapshot too)."""
        meta = payload.get("meta") or {}
        return cls(
            services=payload.get("services") or [],
            organizations=payload.get("organizations") or [],
            taxonomies=payload.get("taxonomies") or [],
            taxonomy_terms=payload.get("taxonomy_terms") or [],
            data_as_of=parse_datetime(meta.get("data_as_of")),
            sources=[str(s) for s in meta.get("sources") or [] if s],
        )

    @classmethod
    def from_dir(cls, path: str | Path) -> CatalogStore:
        """From a folder with services.json, organizations.json, taxonomies.json,
        taxonomy_terms.json and meta.json (missing files count as empty)."""
        folder = Path(path)
        payload: dict[str, Any] = {}
        for name in (*_FILES, "meta"):
            file = folder / f"{name}.json"
            if file.exists():
                payload[name] = json.loads(file.read_text("utf-8"))
        if "services" not in payload:
            raise FileNotFoundError(f"no services.json in {folder}")
        meta = payload.get("meta")
        if isinstance(meta, Mapping) and isinstance(meta.get("sources"), Mapping):
            payload["meta"] = {**meta, "sources": list(meta["sources"])}
        return cls.from_payload(payload)

    @classmethod
    def bundled(cls) -> CatalogStore:
        """The catalogue shipped with Bussola (catalog_client/data)."""
        return cls.from_dir(BUNDLED_DATA_DIR)

    def to_payload(self) -> dict[str, Any]:
        """Everything needed to rebuild this store (what a snapshot file holds)."""
        return {
            "services": list(self._services.values()),
            "organizations": list(self._organizations.values()),
            "taxonomies": list(self._taxonomies.values()),
            "taxonomy_terms": list(self._terms.values()),
            "meta": {
                "data_as_of": self.data_as_of.isoformat() if self.data_as_of else None,
                "sources": list(self.sources),
            },
        }

    # ---- reads ---------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._services)

    def services(self) -> list[dict[str, Any]]:
        """The HSDS service records, fully nested, in catalogue order. Do not mutate them."""
        return list(self._services.values())

    def service(self, service_id: str) -> dict[str, Any] | None:
        return self._services.get(service_id)

    def service_model(self, service_id: str) -> Service | None:
        return self._models.get(service_id)

    def card(self, service_id: str) -> ServiceCard | None:
        entry = self.index.entries.get(service_id)
        return entry.card if entry else None

    def organizations(self) -> list[dict[str, Any]]:
        """Organizations from organizations.json plus any met only nested in a service."""
        out = dict(self._organizations)
        for raw in self._services.values():
            org = raw.get("organization")
            if isinstance(org, Mapping) and org.get("id") and org["id"] not in out:
                out[str(org["id"])] = dict(org)
        return list(out.values())

    def organization(self, organization_id: str) -> dict[str, Any] | None:
        return next((o for o in self.organizations() if o.get("id") == organization_id), None)

    def taxonomies(self) -> list[dict[str, Any]]:
        return list(self._taxonomies.values())

    def taxonomy(self, taxonomy_id: str) -> dict[str, Any] | None:
        return self._taxonomies.get(taxonomy_id)

    def taxonomy_terms(self) -> list[dict[str, Any]]:
        return list(self._terms.values())

    def taxonomy_term(self, term_id: str) -> dict[str, Any] | None:
        return self._terms.get(term_id)

    def service_at_locations(self) -> list[dict[str, Any]]:
        """Every service_at_location, nested in its service, with ``service_id`` filled in."""
        if self._sal_cache is not None and self._sal_cache[0] == self.version:
            return self._sal_cache[1]
        out: list[dict[str, Any]] = []
        for sid, raw in self._services.items():
            for sal in raw.get("service_at_locations") or []:
                if isinstance(sal, Mapping) and sal.get("id"):
                    item = dict(sal)
                    item.setdefault("service_id", sid)
                    loc = item.get("location")
                    if isinstance(loc, Mapping) and loc.get("id"):
                        item.setdefault("location_id", loc["id"])
                    out.append(item)
        self._sal_cache = (self.version, out)
        return out

    def service_at_location(self, sal_id: str) -> dict[str, Any] | None:
        return next((s for s in self.service_at_locations() if s.get("id") == sal_id), None)

    def term_ids_of(self, service_id: str) -> set[str]:
        """The taxonomy term ids a service is tagged with (through its attributes)."""
        model = self._models.get(service_id)
        if model is None:
            return set()
        ids = {a.taxonomy_term_id for a in model.attributes if a.taxonomy_term_id}
        ids |= {a.taxonomy_term.id for a in model.attributes if a.taxonomy_term is not None}
        return {i for i in ids if i}

    # ---- upkeep --------------------------------------------------------------------------------

    def replace_service(self, record: Mapping[str, Any]) -> ServiceCard:
        """Put one service record in the catalogue (replacing the one with its id, or adding it).

        The record must be a valid HSDS 3.0 service (``schema.InvalidRecord`` otherwise, with the
        errors a console can show). The change is visible to the very next search and API call.
        """
        data = copy.deepcopy(dict(record))
        schema.check(data, "service")
        model = Service.model_validate(data)
        old = self.index.entries.get(model.id)
        order = old.order if old else max((e.order for e in self.index.entries.values()), default=-1) + 1
        entry = build_entry(model, self.terms, order, self._organization_name(model))
        self._services[model.id] = data
        self._models[model.id] = model
        entries = dict(self.index.entries)
        entries[model.id] = entry
        self.index.rebuild(entries.values())
        self._touch()
        return entry.card

    def remove_service(self, service_id: str) -> bool:
        """Take a service out of the catalogue; False when there was none with that id."""
        if service_id not in self._services:
            return False
        del self._services[service_id]
        del self._models[service_id]
        self.index.rebuild(e for e in self.index.entries.values() if e.id != service_id)
        self._touch()
        return True

    def _touch(self) -> None:
        self.version += 1
        self.modified_at = max(datetime.now(UTC).replace(microsecond=0), self.modified_at)

    def _organization_name(self, model: Service) -> str:
        if model.organization is not None and model.organization.name:
            return model.organization.name
        if model.organization_id and model.organization_id in self._org_models:
            return self._org_models[model.organization_id].name
        return ""
