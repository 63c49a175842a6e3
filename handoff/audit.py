"""The audit log: one row per view, claim, transfer, close, note, login or change, written in the same
transaction as the change it records. Ids, codes and field names only: never a citizen's words."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from handoff.models import AuditLog
from handoff.security import Actor, utcnow

SYSTEM = "sistema"

ACTION_LABELS: dict[str, str] = {
    "login": "accesso",
    "login_failed": "accesso non riuscito",
    "logout": "uscita",
    "created": "caso creato",
    "view": "caso letto",
    "claim": "preso in carico",
    "take_next": "preso il prossimo",
    "reply": "risposta inviata",
    "note": "nota privata",
    "transfer_team": "trasferito a un altro gruppo",
    "transfer_person": "trasferito a una persona",
    "release": "rimesso in coda",
    "release_stale": "rimesso in coda (operatore assente)",
    "close": "chiuso",
    "export": "dati della persona esportati",
    "catalog_update": "scheda servizio modificata",
    "volunteer_invite": "invito per una volontaria",
    "canned_add": "risposta pronta aggiunta",
    "canned_delete": "risposta pronta eliminata",
    "team_add": "gruppo creato",
    "team_update": "gruppo modificato",
    "facilitator_add": "account creato",
    "facilitator_update": "account modificato",
}


async def audit(
    session: AsyncSession,
    actor: Actor | None,
    action: str,
    *,
    handoff_id: int | None = None,
    object_type: str | None = None,
    object_id: str | int | None = None,
    **detail: Any,
) -> None:
    session.add(
        AuditLog(
            at=utcnow(),
            actor_id=actor.id if actor else None,
            actor=actor.username if actor else SYSTEM,
            action=action,
            handoff_id=handoff_id,
            object_type=object_type,
            object_id=str(object_id) if object_id is not None else None,
            detail=detail,
        )
    )
