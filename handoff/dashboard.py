"""The coordinators' dashboard: figures from the handoffs, and charts drawn on the server as SVG.

What the source documents ask the network to watch: which needs arrive and from where, the needs
nobody in an area answers (cases handed over because no service matched: the "new, emerging
needs"), how long people wait and how long cases take, and how they end. Aggregation is done in
Python over the period's cases so that it reads the same on SQLite and PostgreSQL (JSON needs).

Charts are plain SVG with a title and a description; every chart has a data table next to it.
All labels are escaped: an SVG string is never built from unescaped text.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.texts import NEED_LABELS
from handoff.models import OUTCOME_LABELS, Handoff
from handoff.security import Actor, as_utc, utcnow

ROME = ZoneInfo("Europe/Rome")
TOP = 6
# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
OTHER = "Altro"


@dataclass
class DashboardData:
    weeks: list[date]
    total: int = 0
    waiting_now: int = 0
    assigned_now: int = 0
    closed: int = 0
    by_need: dict[str, list[int]] = field(default_factory=dict)
    by_comune: dict[str, list[int]] = field(default_factory=dict)
    no_service: list[tuple[str, str, int]] = field(default_factory=list)  # need label, area, count
    wait_median: list[float | None] = field(default_factory=list)  # minutes, per week
    wait_p90: list[float | None] = field(default_factory=list)
    handling_median: list[float | None] = field(default_factory=list)
    outcomes: list[tuple[str, int]] = field(default_factory=list)  # label, count
    overall_wait_median: float | None = None
    overall_handling_median: float | None = None


def week_start(dt: datetime) -> date:
    local = dt.astimezone(ROME).date()
    return local - timedelta(days=local.weekday())


def _minutes(a: datetime | None, b: datetime | None) -> float | None:
    a, b = as_utc(a), as_utc(b)
    if a is None or b is None or b < a:
        return None
    return (b - a).total_seconds() / 60


def _p90(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]


def _top(counter_by_week: dict[str, list[int]], n_weeks: int) -> dict[str, list[int]]:
    totals = sorted(counter_by_week.items(), key=lambda kv: (-sum(kv[1]), kv[0]))
    out = dict(totals[:TOP])
    rest = totals[TOP:]
    if rest:
        out[OTHER] = [sum(series[i] for _, series in rest) for i in range(n_weeks)]
    return out


async def collect(
    session: AsyncSession, actor: Actor, *, weeks: int = 12, now: datetime | None = None
) -> DashboardData:
    now = now or utcnow()
    first = week_start(now) - timedelta(weeks=weeks - 1)
    week_list = [first + timedelta(weeks=i) for i in range(weeks)]
    index = {w: i for i, w in enumerate(week_list)}
    since = datetime.combine(first, datetime.min.time(), tzinfo=ROME)
    visible = [] if actor.is_admin else [Handoff.team_id.in_(sorted(actor.team_ids))]
    rows = (await session.scalars(select(Handoff).where(Handoff.created_at >= since, *visible))).all()
    data = DashboardData(weeks=week_list, total=len(rows))
    for status, attr in (("waiting", "waiting_now"), ("assigned", "assigned_now")):
        count = await session.scalar(
            select(func.count()).select_from(Handoff).where(Handoff.status == status, *visible)
        )
        setattr(data, attr, int(count or 0))

    needs: dict[str, list[int]] = defaultdict(lambda: [0] * weeks)
    comuni: dict[str, list[int]] = defaultdict(lambda: [0] * weeks)
    gaps: Counter[tuple[str, str]] = Counter()
    waits: dict[int, list[float]] = defaultdict(list)
    handling: dict[int, list[float]] = defaultdict(list)
    outcomes: Counter[str] = Counter()
    for h in rows:
        created = as_utc(h.created_at)
        if created is None:
            continue
        i = index.get(week_start(created))
        if i is None:
            continue
        for need in h.needs or ["(nessuno)"]:
            needs[NEED_LABELS.get(need, need)][i] += 1
        area = h.comune_name or ("Torino" if h.quartiere else "Non indicato")
        comuni[area][i] += 1
        if h.reason == "nessun_servizio":
            where = f"{area} – {h.quartiere}" if h.quartiere else area
            for need in h.needs or ["(nessuno)"]:
                gaps[(NEED_LABELS.get(need, need), where)] += 1
        wait = _minutes(h.created_at, h.first_claimed_at)
        if wait is not None:
            waits[i].append(wait)
        spent = _minutes(h.first_claimed_at or h.claimed_at, h.closed_at)
        if spent is not None:
            handling[i].append(spent)
        if h.status == "closed":
            data.closed += 1
            outcomes[h.outcome or "altro"] += 1
    data.by_need = _top(dict(needs), weeks)
    data.by_comune = _top(dict(comuni), weeks)
    data.no_service = [(need, area, n) for (need, area), n in gaps.most_common(30)]
    data.wait_median = [statistics.median(waits[i]) if waits[i] else None for i in range(weeks)]
    data.wait_p90 = [_p90(waits[i]) for i in range(weeks)]
    data.handling_median = [statistics.median(handling[i]) if handling[i] else None for i in range(weeks)]
    all_waits = [w for ws in waits.values() for w in ws]
    all_handling = [w for ws in handling.values() for w in ws]
    data.overall_wait_median = statistics.median(all_waits) if all_waits else None
    data.overall_handling_median = statistics.median(all_handling) if all_handling else None
    data.outcomes = [(OUTCOME_LABELS.get(code, code), n) for code, n in outcomes.most_common()]
    return data


# --- SVG ---------------------------------------------------------------------------------------


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _week_label(w: date) -> str:
    return f"{w.day}/{w.month}"


def _nice_max(value: float) -> float:
    """The top of the axis: four round steps (1, 2, 2.5 or 5 times a power of ten) covering value."""
    if value <= 0:
        return 4.0
    magnitude = 10 ** math.floor(math.log10(value / 4))
    for m in (1, 2, 2.5, 5, 10):
        if m * magnitude * 4 >= value:
            return max(4.0, m * magnitude * 4)
    return value


def _frame(chart_id: str, title: str, desc: str, width: int, height: int, body: list[str]) -> Markup:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="{chart_id}-t {chart_id}-d">'
        f'<title id="{chart_id}-t">{_e(title)}</title><desc id="{chart_id}-d">{_e(desc)}</desc>'
    )
    return Markup(head + "".join(body) + "</svg>")  # noqa: S704 - every piece above is escaped


def _axes(left: int, top: int, plot_w: int, plot_h: int, ymax: float, unit: str) -> list[str]:
    out = []
    for k in range(5):
        value = ymax * k / 4
        y = top + plot_h - plot_h * k / 4
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        label = f"{value:g}{unit}"
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">{_e(label)}</text>')
    return out


def _legend(names: list[str], left: int, y: int) -> list[str]:
    out, x = [], left
    for k, name in enumerate(names):
        colour = PALETTE[k % len(PALETTE)]
        out.append(f'<rect x="{x}" y="{y - 10}" width="12" height="12" fill="{colour}"/>')
        out.append(f'<text x="{x + 16}" y="{y}" class="legend">{_e(name)}</text>')
        x += 28 + 7 * len(name)
    return out


def stacked_bars(chart_id: str, title: str, weeks: list[date], series: dict[str, list[int]]) -> Markup:
    width, height, left, top, bottom = 720, 300, 44, 16, 70
    plot_w, plot_h = width - left - 12, height - top - bottom
    totals = [sum(s[i] for s in series.values()) for i in range(len(weeks))]
    ymax = _nice_max(max(totals, default=0))
    body = _axes(left, top, plot_w, plot_h, ymax, "")
    slot = plot_w / max(1, len(weeks))
    bar_w = max(4.0, slot * 0.7)
    names = list(series)
    for i, w in enumerate(weeks):
        x = left + slot * i + (slot - bar_w) / 2
        y = float(top + plot_h)
        for k, name in enumerate(names):
            value = series[name][i]
            if not value:
                continue
            h = plot_h * value / ymax
            y -= h
            colour = PALETTE[k % len(PALETTE)]
            body.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{colour}">'
                f"<title>{_e(name)}, settimana del {_e(_week_label(w))}: {value}</title></rect>"
            )
        if len(weeks) <= 16 or i % 2 == 0:
            body.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h + 16}" text-anchor="middle" class="tick">'
                f"{_e(_week_label(w))}</text>"
            )
    body += _legend(names, left, height - 18)
    desc = "Barre impilate per settimana. " + "; ".join(f"{n}: {sum(v)}" for n, v in series.items())
    return _frame(chart_id, title, desc, width, height, body)


def lines(
    chart_id: str, title: str, weeks: list[date], series: dict[str, list[float | None]], unit: str
) -> Markup:
    width, height, left, top, bottom = 720, 280, 52, 16, 60
    plot_w, plot_h = width - left - 12, height - top - bottom
    values = [v for s in series.values() for v in s if v is not None]
    ymax = _nice_max(max(values, default=0))
    body = _axes(left, top, plot_w, plot_h, ymax, unit)
    step = plot_w / max(1, len(weeks) - 1)
    for k, (name, points) in enumerate(series.items()):
        colour = PALETTE[k % len(PALETTE)]
        coords = [
            (left + step * i, top + plot_h - plot_h * v / ymax) for i, v in enumerate(points) if v is not None
        ]
        if len(coords) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
            body.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2.5"/>')
        for (x, y), v in zip(coords, [p for p in points if p is not None], strict=True):
            body.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}"><title>{_e(name)}: '
                f"{v:.0f}{_e(unit)}</title></circle>"
            )
    for i, w in enumerate(weeks):
        if len(weeks) <= 16 or i % 2 == 0:
            body.append(
                f'<text x="{left + step * i:.1f}" y="{top + plot_h + 16}" text-anchor="middle" class="tick">'
                f"{_e(_week_label(w))}</text>"
            )
    body += _legend(list(series), left, height - 14)
    desc = "Linee per settimana, in minuti. Settimane senza casi lasciate vuote."
    return _frame(chart_id, title, desc, width, height, body)


def hbars(chart_id: str, title: str, items: list[tuple[str, int]]) -> Markup:
    items = items[:12]
    row, left, width = 26, 260, 720
    height = max(60, 16 + row * len(items))
    plot_w = width - left - 50
    vmax = max((v for _, v in items), default=0) or 1
    body: list[str] = []
    for k, (label, value) in enumerate(items):
        y = 8 + k * row
        w = plot_w * value / vmax
        short = label if len(label) <= 40 else label[:39] + "…"
        body.append(f'<text x="{left - 8}" y="{y + 15}" text-anchor="end" class="tick">{_e(short)}</text>')
        body.append(
            f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{row - 8}" fill="{PALETTE[0]}">'
            f"<title>{_e(label)}: {value}</title></rect>"
        )
        body.append(f'<text x="{left + w + 6:.1f}" y="{y + 15}" class="tick">{value}</text>')
    if not items:
        body.append(
            f'<text x="{width / 2}" y="36" text-anchor="middle" class="tick">Nessun dato nel periodo</text>'
        )
    desc = "; ".join(f"{label}: {value}" for label, value in items) or "Nessun dato"
    return _frame(chart_id, title, desc, width, height, body)


def charts(d: DashboardData) -> dict[str, Markup]:
    return {
        "needs": stacked_bars(
            "c-needs", "Richieste per bisogno, settimana per settimana", d.weeks, d.by_need
        ),
        "comuni": stacked_bars(
            "c-comuni", "Richieste per comune, settimana per settimana", d.weeks, d.by_comune
        ),
        "gaps": hbars(
            "c-gaps",
            "Bisogni senza un servizio nella zona",
            [(f"{need} – {area}", n) for need, area, n in d.no_service],
        ),
        "times": lines(
            "c-times",
            "Attesa e durata dei casi (minuti)",
            d.weeks,
            {
                "Attesa (mediana)": d.wait_median,
                "Attesa (90% entro)": d.wait_p90,
                "Durata (mediana)": d.handling_median,
            },
            " min",
        ),
        "outcomes": hbars("c-outcomes", "Esiti dei casi chiusi", d.outcomes),
    }
