"""The handoff queue: claim, take next, transfer, release, close, and cases going stale.

Every change of a case is one conditional UPDATE (``... WHERE status = <what we saw>``) whose row
count says whether we won: exactly one facilitator wins a claim, on SQLite (the write lock
serialises statements) and on PostgreSQL (row locks; "take next" skips rows another transaction is
taking with ``FOR UPDATE SKIP LOCKED``). The audit row is written in the same transaction.

These functions take an open session and do not commit: ``handoff.service`` wraps them with the
transaction, the citizen's notices, the conversation's owner and the live events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from handoff.audit import audit
from handoff.models import OUTCOMES, Facilitator, Handoff, PrivateNote, Team, TeamMembership
from handoff.security import Actor

MAX_NOTE = 2000
MAX_REPLY = 4000


class QueueError(Exception):
    """A refused operation; ``message`` is Italian and safe to show to the facilitator."""

    status = 400
    code = "invalid"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(QueueError):
    status = 404
    code = "not_found"


class Forbidden(QueueError):
    status = 403
    code = "forbidden"


class Conflict(QueueError):
    status = 409
    code = "conflict"


class Invalid(QueueError):
    status = 422
    code = "invalid_request"


def _visible(actor: Actor, entity: Any = Handoff) -> Any:
    """SQL condition: the cases of the actor's teams (all for an admin)."""
    if actor.is_admin:
        return entity.id.is_not(None)
    return entity.team_id.in_(sorted(actor.team_ids))


async def get_visible(session: AsyncSession, actor: Actor, handoff_id: int) -> Handoff:
    h = await session.get(Handoff, handoff_id, populate_existing=True)
    if h is None:
        raise NotFound("Caso non trovato.")
    if not actor.can_see_team(h.team_id):
        raise Forbidden("Questo caso è di un altro gruppo.")
    return h


def _clean_text(text: str | None, *, limit: int, required: bool, what: str) -> str:
    value = (text or "").replace("\x00", "").strip()
    if required and not value:
        raise Invalid(f"Scrivi {what}.")
    if len(value) > limit:
        raise Invalid(f"{what.capitalize()} è troppo lunga (massimo {limit} caratteri).")
    return value


def can_manage(actor: Actor, h: Handoff) -> bool:
    """Who may transfer, release or close a case: its holder, or a coordinator of its team."""
    if h.assigned_to == actor.id:
        return True
    return actor.is_coordinator and actor.can_see_team(h.team_id)


# --- claiming ----------------------------------------------------------------------------------


def _claim_values(actor: Actor, now: datetime) -> dict[str, Any]:
    return {
        "status": "assigned",
        "assigned_to": actor.id,
        "claimed_at": now,
        "last_activity_at": now,
        "first_claimed_at": func.coalesce(Handoff.first_claimed_at, now),
    }


async def claim(session: AsyncSession, actor: Actor, handoff_id: int, now: datetime) -> Handoff:
    """Take a waiting case. Raises Conflict when someone else got it first.

    The conditional UPDATE comes first (one round trip with RETURNING for the winner); only a
    loser reads the case, to tell "taken" (409) from "not yours" (403) and "no such case" (404).
    """
    won = await session.scalar(
        update(Handoff)
        .where(Handoff.id == handoff_id, Handoff.status == "waiting", _visible(actor))
        .values(**_claim_values(actor, now))
        .returning(Handoff),
        execution_options={"populate_existing": True},
    )
    if won is not None:
        await audit(
            session, actor, "claim", handoff_id=handoff_id, object_type="handoff", object_id=handoff_id
        )
        return won
    h = await get_visible(session, actor, handoff_id)
    if h.status == "assigned" and h.assigned_to == actor.id:
        return h  # a repeated click of the winner is not a conflict
    raise Conflict("Un'altra persona ha già preso in carico questo caso.")


def next_waiting(actor: Actor, *, for_update: bool) -> Select[Any]:
    """The head of the actor's queue. An alias, so that it never correlates with an outer UPDATE."""
    h = aliased(Handoff)
    stmt = (
        select(h.id)
        .where(h.status == "waiting", _visible(actor, h))
        .order_by(h.priority_rank, h.created_at, h.id)
        .limit(1)
    )
    return stmt.with_for_update(skip_locked=True) if for_update else stmt


async def take_next(session: AsyncSession, actor: Actor, now: datetime) -> Handoff | None:
    """Claim the first waiting case (priority, then waiting time) of the actor's teams, if any.

    One statement: ``UPDATE ... WHERE id = (SELECT ... LIMIT 1 [FOR UPDATE SKIP LOCKED]) AND
    status = 'waiting' RETURNING id``. On PostgreSQL concurrent callers skip each other's rows; on
    SQLite the statement runs under the database write lock. A lost race is retried.
    """
    pg = session.get_bind().dialect.name == "postgresql"
    for _ in range(50):
        sub = next_waiting(actor, for_update=pg).scalar_subquery()
        won = await session.scalar(
            update(Handoff)
            .where(Handoff.id == sub, Handoff.status == "waiting")
            .values(**_claim_values(actor, now))
            .returning(Handoff),
            execution_options={"populate_existing": True},
        )
        if won is not None:
            await audit(
                session, actor, "take_next", handoff_id=won.id, object_type="handoff", object_id=won.id
            )
            return won
        if await session.scalar(next_waiting(actor, for_update=False)) is None:
            return None
    return None


# --- transfer, release, close ------------------------------------------------------------------


async def _guarded_update(session: AsyncSession, h: Handoff, values: dict[str, Any]) -> None:
    """Apply ``values`` only if the case is still as we read it; else someone changed it meanwhile."""
    result = await session.execute(
        update(Handoff)
        .where(
            Handoff.id == h.id,
            Handoff.status == h.status,
            Handoff.assigned_to.is_(None) if h.assigned_to is None else Handoff.assigned_to == h.assigned_to,
            Handoff.team_id.is_(None) if h.team_id is None else Handoff.team_id == h.team_id,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("Il caso è appena cambiato: ricarica la pagina.")


BACK_TO_QUEUE: dict[str, Any] = {
    "status": "waiting",
    "assigned_to": None,
    "claimed_at": None,
    "notice_at": None,
    "notice_kind": None,
    "notice_position": None,
}


@dataclass(frozen=True, slots=True)
class TransferResult:
    handoff: Handoff
    previous_status: str
    to_team: Team | None = None
    to_facilitator: Facilitator | None = None


async def transfer(
    session: AsyncSession,
    actor: Actor,
    handoff_id: int,
    *,
    note: str,
    team_id: int | None = None,
    facilitator_id: int | None = None,
    now: datetime,
) -> TransferResult:
    """Move a case to another team (back in its queue) or straight to a person, with a note."""
    if (team_id is None) == (facilitator_id is None):
        raise Invalid("Scegli un gruppo oppure una persona a cui passare il caso.")
    text = _clean_text(note, limit=MAX_NOTE, required=True, what="una nota per chi riceve il caso")
    h = await get_visible(session, actor, handoff_id)
    if h.status == "closed":
        raise Conflict("Il caso è già chiuso.")
    if h.status == "assigned" and not can_manage(actor, h):
        raise Forbidden("Solo chi ha in carico il caso o un coordinatore può trasferirlo.")
    previous = h.status
    if team_id is not None:
        team = await session.get(Team, team_id)
        if team is None:
            raise Invalid("Gruppo non trovato.")
        values = dict(BACK_TO_QUEUE, team_id=team.id, last_activity_at=now)
        await _guarded_update(session, h, values)
        await audit(
            session,
            actor,
            "transfer_team",
            handoff_id=h.id,
            object_type="team",
            object_id=team.id,
            from_team=h.team_id,
        )
        result = TransferResult(handoff=h, previous_status=previous, to_team=team)
    else:
        target = await session.get(Facilitator, facilitator_id)
        if target is None or not target.active:
            raise Invalid("Persona non trovata o non attiva.")
        if target.id == h.assigned_to:
            raise Invalid("Il caso è già in carico a questa persona.")
        target_teams = set(
            await session.scalars(
                select(TeamMembership.team_id).where(TeamMembership.facilitator_id == target.id)
            )
        )
        if target.role != "admin" and h.team_id not in target_teams:
            if not target_teams:
                raise Invalid("Questa persona non fa parte di nessun gruppo.")
            new_team = min(target_teams)
        else:
            new_team = h.team_id  # type: ignore[assignment]
        values = {
            "status": "assigned",
            "assigned_to": target.id,
            "team_id": new_team,
            "claimed_at": now,
            "last_activity_at": now,
            "first_claimed_at": func.coalesce(Handoff.first_claimed_at, now),
        }
        await _guarded_update(session, h, values)
        await audit(
            session,
            actor,
            "transfer_person",
            handoff_id=h.id,
            object_type="facilitator",
            object_id=target.id,
            from_facilitator=h.assigned_to,
            from_team=h.team_id,
        )
        result = TransferResult(handoff=h, previous_status=previous, to_facilitator=target)
    session.add(
        PrivateNote(
            handoff_id=h.id, author_id=actor.id, author_name=actor.first_name, kind="transfer", text=text
        )
    )
    await session.refresh(h)
    return result


async def release(
    session: AsyncSession, actor: Actor, handoff_id: int, *, note: str, now: datetime
) -> Handoff:
    """The holder gives a case back to its team's queue (it keeps its place: created_at is kept)."""
    text = _clean_text(note, limit=MAX_NOTE, required=False, what="la nota")
    h = await get_visible(session, actor, handoff_id)
    if h.status != "assigned":
        raise Conflict("Il caso non è in carico a nessuno.")
    if not can_manage(actor, h):
        raise Forbidden("Solo chi ha in carico il caso o un coordinatore può rimetterlo in coda.")
    await _guarded_update(
        session, h, dict(BACK_TO_QUEUE, last_activity_at=now, returned_count=Handoff.returned_count + 1)
    )
    await audit(session, actor, "release", handoff_id=h.id, object_type="handoff", object_id=h.id)
    if text:
        session.add(
            PrivateNote(
                handoff_id=h.id, author_id=actor.id, author_name=actor.first_name, kind="release", text=text
            )
        )
    await session.refresh(h)
    return h


async def close(
    session: AsyncSession, actor: Actor, handoff_id: int, *, outcome: str, note: str, now: datetime
) -> Handoff:
    """Close with an outcome code. The holder closes; a coordinator may also close a waiting case."""
    if outcome not in OUTCOMES:
        raise Invalid("Esito non valido. Scegli uno degli esiti della lista.")
    text = _clean_text(note, limit=MAX_NOTE, required=False, what="la nota")
    h = await get_visible(session, actor, handoff_id)
    if h.status == "closed":
        raise Conflict("Il caso è già chiuso.")
    if h.status == "waiting" and not (actor.is_coordinator and actor.can_see_team(h.team_id)):
        raise Forbidden("Prendi in carico il caso prima di chiuderlo.")
    if h.status == "assigned" and not can_manage(actor, h):
        raise Forbidden("Solo chi ha in carico il caso o un coordinatore può chiuderlo.")
    await _guarded_update(
        session,
        h,
        {
            "status": "closed",
            "closed_at": now,
            "closed_by": actor.id,
            "outcome": outcome,
            "outcome_note": text or None,
            "last_activity_at": now,
        },
    )
    await audit(
        session, actor, "close", handoff_id=h.id, object_type="handoff", object_id=h.id, outcome=outcome
    )
    await session.refresh(h)
    return h


async def add_note(session: AsyncSession, actor: Actor, handoff_id: int, text: str) -> PrivateNote:
    """A private note among facilitators: stored apart from the conversation, never sent."""
    body = _clean_text(text, limit=MAX_NOTE, required=True, what="la nota")
    h = await get_visible(session, actor, handoff_id)
    note = PrivateNote(
        handoff_id=h.id, author_id=actor.id, author_name=actor.first_name, kind="note", text=body
    )
    session.add(note)
    await session.flush()
    await audit(session, actor, "note", handoff_id=h.id, object_type="note", object_id=note.id)
    return note


def check_reply(actor: Actor, h: Handoff, text: str) -> str:
    """Only the holder writes to the person: one voice at a time."""
    body = _clean_text(text, limit=MAX_REPLY, required=True, what="il messaggio")
    if h.status != "assigned" or h.assigned_to != actor.id:
        raise Conflict("Prendi in carico il caso prima di scrivere alla persona.")
    if h.conversation_id is None:
        raise Conflict("La conversazione non esiste più (la persona ha cancellato i suoi dati).")
    return body


# --- going stale -------------------------------------------------------------------------------


async def stale_candidates(session: AsyncSession, now: datetime, away_for: timedelta) -> Sequence[Handoff]:
    """Assigned cases whose facilitator has been away (no console activity) for ``away_for``."""
    cutoff = now - away_for
    stmt = (
        select(Handoff)
        .outerjoin(Facilitator, Facilitator.id == Handoff.assigned_to)
        .where(
            Handoff.status == "assigned",
            func.coalesce(Handoff.last_activity_at, Handoff.claimed_at, Handoff.created_at) < cutoff,
            or_(
                Facilitator.id.is_(None),
                Facilitator.active.is_(False),
                Facilitator.last_seen_at.is_(None),
                Facilitator.last_seen_at < cutoff,
            ),
        )
        .order_by(Handoff.id)
        .limit(200)
    )
    return (await session.scalars(stmt)).all()


async def release_if_stale(session: AsyncSession, h: Handoff, now: datetime) -> bool:
    """Send one stale case back to its queue; False when it changed meanwhile (another replica)."""
    result = await session.execute(
        update(Handoff)
        .where(
            and_(Handoff.id == h.id, Handoff.status == "assigned", Handoff.assigned_to == h.assigned_to),
        )
        .values(**BACK_TO_QUEUE, last_activity_at=now, returned_count=Handoff.returned_count + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    await audit(
        session, None, "release_stale", handoff_id=h.id, object_type="facilitator", object_id=h.assigned_to
    )
    session.add(
        PrivateNote(
            handoff_id=h.id, author_name="Bussola", kind="release", text="Rimesso in coda: operatore assente."
        )
    )
    return True


# --- listing -----------------------------------------------------------------------------------


async def list_cases(
    session: AsyncSession,
    actor: Actor,
    *,
    status: str | None = None,
    mine: bool = False,
    team_id: int | None = None,
    limit: int = 200,
) -> Sequence[Handoff]:
    stmt = select(Handoff).where(_visible(actor))
    if status:
        stmt = stmt.where(Handoff.status == status)
    if mine:
        stmt = stmt.where(Handoff.assigned_to == actor.id)
    if team_id is not None:
        stmt = stmt.where(Handoff.team_id == team_id)
    if status == "closed":
        stmt = stmt.order_by(Handoff.closed_at.desc(), Handoff.id.desc())
    else:
        stmt = stmt.order_by(Handoff.priority_rank, Handoff.created_at, Handoff.id)
    return (await session.scalars(stmt.limit(limit))).all()
