"""``bussola catalog search`` and ``bussola catalog serve``: the catalogue from a terminal.

``search`` is how a facilitator or a developer checks what the bot would suggest, and why;
``serve`` runs the read-only HSDS 3.0 API alone.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import httpx

from catalog_client.client import RemoteCatalog
from catalog_client.embedded import EmbeddedCatalog
from catalog_client.store import CatalogStore
from catalog_client.types import Catalog, CatalogStatus, Match, MatchQuery
from nlu.territory import find_comune, find_quartiere
from nlu.types import NEED_INTENTS

_SOURCES = {
    "embedded": "catalogo incorporato",
    "remote": "API HSDS remota",
    "snapshot": "copia locale (API giù)",
}


def add_subcommands(subparsers: Any) -> None:
    """Add ``catalog search`` and ``catalog serve`` to the ``bussola`` command."""
    catalog = subparsers.add_parser("catalog", help="search the catalogue of services, serve the HSDS API")
    sub = catalog.add_subparsers(dest="catalog_command", required=True)

    search = sub.add_parser("search", help="ranked services for a need and a place, with the reasons")
    search.add_argument("--need", action="append", required=True, choices=NEED_INTENTS, help="repeatable")
    search.add_argument("--comune", help="name or ISTAT code of a comune of the Città metropolitana")
    search.add_argument("--quartiere", help="Turin neighbourhood (implies Torino)")
    search.add_argument("--text", default="", help="the citizen's words")
    search.add_argument("--eta", type=int, help="age of the person the help is for")
    search.add_argument("--per", dest="for_whom", help='for whom, e.g. "mia madre"')
    search.add_argument("--lat", type=float, help="latitude of a shared location")
    search.add_argument("--lon", type=float, help="longitude of a shared location")
    search.add_argument("--limit", type=int, default=5)
    search.add_argument(
        "--data", type=Path, help="folder of HSDS JSON files (default: the bundled catalogue)"
    )
    search.add_argument("--url", help="an HSDS 3.0 API to search instead (like CATALOG_URL)")
    search.set_defaults(func=run_search)

    serve = sub.add_parser("serve", help="run the read-only HSDS 3.0 API alone")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8001)
    serve.add_argument("--data", type=Path, help="folder of HSDS JSON files (default: the bundled catalogue)")
    serve.set_defaults(func=run_serve)


def _load_store(data: Path | None) -> CatalogStore:
    return CatalogStore.from_dir(data) if data else CatalogStore.bundled()


def build_query(args: argparse.Namespace) -> MatchQuery:
    """The MatchQuery of the command line; ValueError with an Italian message on a bad place."""
    comune_istat = None
    if args.comune:
        comune = find_comune(args.comune)
        if comune is None:
            raise ValueError(f"Comune non trovato nella Città metropolitana di Torino: {args.comune!r}")
        comune_istat = comune.istat
    if args.quartiere and find_quartiere(args.quartiere) is None:
        raise ValueError(f"Quartiere di Torino non riconosciuto: {args.quartiere!r}")
    if (args.lat is None) != (args.lon is None):
        raise ValueError("Servono sia --lat sia --lon.")
    return MatchQuery(
        needs=tuple(dict.fromkeys(args.need)),
        text=args.text or "",
        comune_istat=comune_istat,
        quartiere=args.quartiere,
        eta=args.eta,
        for_whom=args.for_whom,
        latitude=args.lat,
        longitude=args.lon,
        limit=max(1, min(args.limit, 50)),
    )


def format_status(status: CatalogStatus) -> str:
    when = status.data_as_of.strftime("%d/%m/%Y") if status.data_as_of else "data sconosciuta"
    return f"Catalogo: {_SOURCES.get(status.source, status.source)}, dati al {when}"


def format_matches(matches: Sequence[Match]) -> str:
    """The ranked results as plain text, with the reasons a facilitator reads."""
    if not matches:
        return "Nessun servizio trovato per questa richiesta."
    lines: list[str] = []
    for n, m in enumerate(matches, 1):
        card = m.service
        title = f"{n}. {card.name}" + (f" — {card.organization}" if card.organization else "")
        lines.append(title + (" [da verificare]" if card.to_verify else ""))
        lines.append(f"   perché: {m.why}  (punteggio {m.score:g})")
        if card.description:
            lines.append(f"   {card.description}")
        contacts = [p.number + (f" ({p.description})" if p.description else "") for p in card.phones]
        if contacts:
            lines.append("   tel. " + ", ".join(contacts))
        if card.address:
            lines.append(f"   dove: {card.address}")
        if card.hours:
            lines.append(f"   orari: {card.hours}")
        if card.source:
            lines.append(f"   fonte: {card.source}")
        lines.append(f"   id: {card.id}")
    return "\n".join(lines)


async def _search(catalog: Catalog, query: MatchQuery) -> tuple[CatalogStatus, list[Match]]:
    matches = await catalog.match(query)
    return await catalog.status(), matches


def run_search(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        query = build_query(args)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2

    async def go() -> tuple[CatalogStatus, list[Match]]:
        if args.url:
            async with httpx.AsyncClient() as http:
                remote = RemoteCatalog(args.url, http, cold_start_wait=30.0)
                try:
                    return await _search(remote, query)
                finally:
                    await remote.aclose()
        return await _search(EmbeddedCatalog(_load_store(args.data)), query)

    try:
        status, matches = asyncio.run(go())
    except FileNotFoundError as exc:
        print(f"Catalogo non trovato: {exc}", file=sys.stderr)
        return 1
    print(format_status(status), file=out)
    print(format_matches(matches), file=out)
    return 0


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from catalog_client.api import create_hsds_app

    uvicorn.run(create_hsds_app(_load_store(args.data)), host=args.host, port=args.port, log_level="info")
    return 0
