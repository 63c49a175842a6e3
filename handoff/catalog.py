"""Catalogue upkeep from the console: a team corrects its own organisations' service records.

A change is validated against HSDS 3.0 (``catalog_client.schema``) before anything is stored, kept
in ``catalog_overrides`` (re-applied at every start), audited with the names of the fields that
changed, applied to the in-memory catalogue at once (the next search uses it) and announced on the
``catalog`` topic so that other app processes apply it too.
"""

from __future__ import annotations

import copy
import logging
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.audit import audit
from handoff.models import CatalogOverride, Team, TeamMembership
from handoff.security import Actor

log = logging.getLogger("bussola.handoff.catalog")

FIELDS = (
    "name",
    "description",
    "status",
    "alert",
    "application_process",
    "eligibility_description",
    "fees_description",
    "url",
    "email",
    "phones",
    "hours",
)
TEXT_FIELDS = (
    "name",
    "description",
    "alert",
    "application_process",
    "eligibility_description",
    "fees_description",
    "url",
    "email",
)
STATUS_LABELS = {
    "active": "Attivo",
    "temporarily closed": "Chiuso per un periodo",
    "inactive": "Non attivo",
    "defunct": "Chiuso definitivamente",
}
PHONE_RE = re.compile(r"^\+?[0-9 ()./-]{3,30}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
NAMESPACE = uuid.UUID("5c6b0f8e-4a3e-4f53-9d0b-62f1c1c0a001")


class NotAllowed(Exception):
    """The record belongs to an organisation none of the actor's teams looks after."""


class Rejected(ValueError):
    """The edited record is not acceptable; ``errors`` are shown next to the form."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def organization_id_of(record: dict[str, Any]) -> str | None:
    org = record.get("organization")
    if isinstance(org, dict) and org.get("id"):
        return str(org["id"])
    value = record.get("organization_id")
    return str(value) if value else None


async def editable_organizations(session: AsyncSession, actor: Actor) -> set[str]:
    teams = (
        await session.scalars(
            select(Team)
            .join(TeamMembership, TeamMembership.team_id == Team.id)
            .where(TeamMembership.facilitator_id == actor.id)
        )
    ).all()
    return {org for t in teams for org in (t.organization_ids or ())}


async def may_edit(session: AsyncSession, actor: Actor, record: dict[str, Any]) -> bool:
    if actor.is_admin:
        return True
    return organization_id_of(record) in await editable_organizations(session, actor)


def services_of(store: Any, orgs: set[str], *, everything: bool) -> list[dict[str, Any]]:
    out = []
    for record in store.services():
        if not everything and organization_id_of(record) not in orgs:
            continue
        org = record.get("organization") if isinstance(record.get("organization"), dict) else {}
        out.append(
            {
                "id": record["id"],
                "name": record.get("name", ""),
                "organization": (org or {}).get("name", ""),
                "status": STATUS_LABELS.get(record.get("status", ""), record.get("status", "")),
                "last_modified": record.get("last_modified", ""),
            }
        )
    return sorted(out, key=lambda s: (s["organization"], s["name"]))


def form_values(record: dict[str, Any]) -> dict[str, str]:
    values = {name: str(record.get(name) or "") for name in TEXT_FIELDS}
    values["status"] = str(record.get("status") or "active")
    values["phones"] = "\n".join(
        f"{p.get('number', '')} | {p['description']}" if p.get("description") else str(p.get("number", ""))
        for p in record.get("phones") or ()
        if isinstance(p, dict)
    )
    schedules = [s for s in record.get("schedules") or () if isinstance(s, dict)]
    values["hours"] = str(schedules[0].get("description") or "") if schedules else ""
    return values


def _phones(
    service_id: str, text: str, existing: list[dict[str, Any]], errors: list[str]
) -> list[dict[str, Any]]:
    by_number = {str(p.get("number", "")).strip(): p for p in existing if isinstance(p, dict)}
    out: list[dict[str, Any]] = []
    for line in (raw.strip() for raw in text.splitlines()):
        if not line:
            continue
        number, _, description = (part.strip() for part in line.partition("|"))
        if not PHONE_RE.match(number):
            errors.append(f"Numero di telefono non valido: «{number[:40]}»")
            continue
        phone = dict(by_number.get(number) or {})
        phone.setdefault("id", str(uuid.uuid5(NAMESPACE, f"{service_id}:phone:{number}")))
        phone.update({"service_id": service_id, "number": number})
        phone.setdefault("type", "voice")
        if description:
            phone["description"] = description[:200]
        else:
            phone.pop("description", None)
        out.append(phone)
    return out


def _schedules(service_id: str, text: str, existing: list[dict[str, Any]]) -> list[dict[str, Any]]:
    schedules = [dict(s) for s in existing if isinstance(s, dict)]
    if text:
        if schedules:
            schedules[0]["description"] = text
        else:
            schedules = [
                {
                    "id": str(uuid.uuid5(NAMESPACE, f"{service_id}:hours")),
                    "service_id": service_id,
                    "description": text,
                }
            ]
    elif schedules:
        schedules[0].pop("description", None)
        if set(schedules[0]) <= {"id", "service_id"}:
            schedules = schedules[1:]
    return schedules


def apply_form(
    record: dict[str, Any], values: dict[str, str], now: datetime
) -> tuple[dict[str, Any], list[str]]:
    """The record with the form's values, and the list of changed fields; Rejected when invalid."""
    errors: list[str] = []
    new = copy.deepcopy(record)
    sid = str(record["id"])
    for name in TEXT_FIELDS:
        value = (values.get(name) or "").replace("\x00", "").strip()
        if len(value) > 4000:
            errors.append(f"Il campo «{name}» è troppo lungo.")
        if value:
            new[name] = value
        else:
            new.pop(name, None)
    if not new.get("name"):
        errors.append("Il nome del servizio è obbligatorio.")
    if new.get("email") and not EMAIL_RE.match(new["email"]):
        errors.append("L'indirizzo email non è valido.")
    if new.get("url") and not re.match(r"^https?://[^\s]+$", new["url"]):
        errors.append("Il sito deve iniziare con https:// (o http://).")
    status = values.get("status") or "active"
    if status not in STATUS_LABELS:
        errors.append("Stato del servizio non valido.")
    new["status"] = status
    new["phones"] = _phones(sid, values.get("phones") or "", list(record.get("phones") or ()), errors)
    new["schedules"] = _schedules(
        sid, (values.get("hours") or "").strip()[:1000], list(record.get("schedules") or ())
    )
    new["last_modified"] = now.replace(microsecond=0).isoformat().replace("+00:00", "Z")
    if not errors:
        from catalog_client import schema

        errors = [f"HSDS 3.0 — {e}" for e in schema.errors_of(new, "service")]
    if errors:
        raise Rejected(errors)
    changed = sorted(
        k for k in set(record) | set(new) if k != "last_modified" and record.get(k) != new.get(k)
    )
    return new, changed


async def save(state: Any, actor: Actor, record: dict[str, Any], values: dict[str, str]) -> list[str]:
    """Validate, store, audit, apply and announce one correction; returns the changed fields."""
    now = datetime.now(UTC)
    async with state.sessionmaker() as session:
        if not await may_edit(session, actor, record):
            raise NotAllowed(record.get("id"))
        new, changed = apply_form(record, values, now)
        if not changed:
            return []
        team_id = None
        org = organization_id_of(record)
        for t in (await session.scalars(select(Team).where(Team.id.in_(sorted(actor.team_ids))))).all():
            if org in (t.organization_ids or ()):
                team_id = t.id
                break
        row = await session.get(CatalogOverride, new["id"])
        if row is None:
            session.add(
                CatalogOverride(
                    service_id=new["id"], team_id=team_id, data=new, updated_by=actor.id, updated_at=now
                )
            )
        else:
            row.data, row.team_id, row.updated_by, row.updated_at = new, team_id, actor.id, now
        await audit(
            session, actor, "catalog_update", object_type="service", object_id=new["id"], fields=changed
        )
        await session.commit()
    state.catalog_store.replace_service(new)
    try:
        await state.broker.publish("catalog", {"type": "service_updated", "service_id": new["id"]})
    except Exception as exc:  # noqa: BLE001 - other processes pick it up at their next start
        log.warning("catalog event not published: %s", type(exc).__name__)
    return changed


async def apply_override(sessionmaker: Any, store: Any, service_id: str) -> bool:
    """Re-read one correction and apply it (another process saved it)."""
    async with sessionmaker() as session:
        row = await session.get(CatalogOverride, service_id)
    if row is None:
        return False
    store.replace_service(row.data)
    return True
