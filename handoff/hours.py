"""Office hours of a team, with Italian public holidays, and how to say in Italian when it reopens.

Hours are local to Europe/Rome. A team without configured hours is open Monday to Friday 9-17.
Public holidays come from the ``holidays`` package (national ones, plus the patron saint of a
subdivision when the team sets one, e.g. "TO" for San Giovanni in Turin).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

ROME = ZoneInfo("Europe/Rome")
DEFAULT_HOURS: dict[str, list[list[str]]] = {str(d): [["09:00", "17:00"]] for d in range(5)}
WEEKDAYS_IT = ("lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato", "domenica")
MONTHS_IT = (
    "gennaio",
    "febbraio",
    "marzo",
    "aprile",
    "maggio",
    "giugno",
    "luglio",
    "agosto",
    "settembre",
    "ottobre",
    "novembre",
    "dicembre",
)
_DAY_KEYS = {
    "lun": 0,
    "mar": 1,
    "mer": 2,
    "gio": 3,
    "ven": 4,
    "sab": 5,
    "dom": 6,
}


class HoursError(ValueError):
    """Office hours written in a way we cannot read; the message says how to write them."""


@dataclass(frozen=True, slots=True)
class OfficeHours:
    """Weekly opening intervals (local time), public holidays and extra closed days of one team."""

    weekly: Mapping[int, tuple[tuple[time, time], ...]]
    subdiv: str | None = None
    closed_days: frozenset[date] = field(default_factory=frozenset)

    @classmethod
    def from_team(
        cls,
        office_hours: Mapping[str, Sequence[Sequence[str]]] | None,
        subdiv: str | None = None,
        closed_days: Iterable[str] = (),
    ) -> OfficeHours:
        raw = office_hours if office_hours else DEFAULT_HOURS
        weekly: dict[int, tuple[tuple[time, time], ...]] = {}
        for key, spans in raw.items():
            day = int(key)
            weekly[day] = tuple(
                sorted((time.fromisoformat(a), time.fromisoformat(b)) for a, b in spans if a < b)
            )
        closed = frozenset(date.fromisoformat(d) for d in closed_days)
        return cls(weekly=weekly, subdiv=subdiv or None, closed_days=closed)

    def holiday_name(self, day: date) -> str | None:
        if day in self.closed_days:
            return "chiusura straordinaria"
        name = _italian_holidays(day.year, self.subdiv).get(day)
        return str(name) if name else None

    def spans_on(self, day: date) -> tuple[tuple[time, time], ...]:
        if self.holiday_name(day) is not None:
            return ()
        return self.weekly.get(day.weekday(), ())

    def is_open(self, at: datetime) -> bool:
        local = _local(at)
        return any(a <= local.time() < b for a, b in self.spans_on(local.date()))

    def next_opening(self, after: datetime, *, horizon_days: int = 21) -> datetime | None:
        """The next moment the team opens (``after`` itself when open), in UTC; None if never soon."""
        if self.is_open(after):
            return after
        local = _local(after)
        for offset in range(horizon_days + 1):
            day = local.date() + timedelta(days=offset)
            for start, _end in self.spans_on(day):
                candidate = datetime.combine(day, start, tzinfo=ROME)
                if candidate > local:
                    return candidate.astimezone(UTC)
        return None


@lru_cache(maxsize=64)
def _italian_holidays(year: int, subdiv: str | None) -> holidays.HolidayBase:
    return holidays.country_holidays("IT", subdiv=subdiv, years=year, language="it")


def _local(at: datetime) -> datetime:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(ROME)


def describe_opening(opening: datetime, now: datetime) -> str:
    """Italian words for when someone will answer: "oggi alle 14:00", "domani alle 9:00",
    "lunedì 3 marzo alle 9:00"."""
    when = _local(opening)
    today = _local(now).date()
    hour = f"{when.hour}:{when.minute:02d}"
    if when.date() == today:
        return f"oggi alle {hour}"
    if when.date() == today + timedelta(days=1):
        return f"domani alle {hour}"
    return f"{WEEKDAYS_IT[when.weekday()]} {when.day} {MONTHS_IT[when.month - 1]} alle {hour}"


def parse_hours_spec(spec: str) -> dict[str, list[list[str]]]:
    """Read hours written by people: "lun-ven 9-13,14-17; sab 9-12" into the stored JSON shape."""
    out: dict[str, list[list[str]]] = {}
    for part in (p.strip() for p in spec.split(";")):
        if not part:
            continue
        try:
            days_txt, spans_txt = part.split(None, 1)
        except ValueError as exc:
            raise HoursError(f"manca l'orario in «{part}» (esempio: lun-ven 9-13,14-17)") from exc
        days = _parse_days(days_txt.lower())
        spans = [_parse_span(s.strip()) for s in spans_txt.split(",") if s.strip()]
        for d in days:
            out.setdefault(str(d), []).extend(spans)
    if not out:
        raise HoursError("nessun orario indicato (esempio: lun-ven 9-13,14-17)")
    return out


def _parse_days(text: str) -> list[int]:
    if "-" in text:
        a, b = text.split("-", 1)
        start, end = _day(a), _day(b)
        if end < start:
            raise HoursError(f"giorni al contrario: «{text}»")
        return list(range(start, end + 1))
    return [_day(d) for d in text.split(",")]


def _day(text: str) -> int:
    key = text.strip()[:3]
    if key not in _DAY_KEYS:
        raise HoursError(f"giorno sconosciuto: «{text}» (usa lun, mar, mer, gio, ven, sab, dom)")
    return _DAY_KEYS[key]


def _parse_span(text: str) -> list[str]:
    try:
        a, b = text.split("-", 1)
        start, end = _clock(a), _clock(b)
    except ValueError as exc:
        raise HoursError(f"orario non valido: «{text}» (esempio: 9-13 oppure 9:30-12:30)") from exc
    if start >= end:
        raise HoursError(f"l'orario finisce prima di iniziare: «{text}»")
    return [start, end]


def _clock(text: str) -> str:
    text = text.strip().replace(".", ":")
    h, _, m = text.partition(":")
    hour, minute = int(h), int(m or 0)
    if not (0 <= hour <= 24 and 0 <= minute < 60) or (hour == 24 and minute):
        raise ValueError(text)
    return "23:59" if hour == 24 else f"{hour:02d}:{minute:02d}"
