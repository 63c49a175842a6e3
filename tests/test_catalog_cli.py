"""``bussola catalog search`` / ``catalog serve``, called through the argparse wiring the CLI uses."""

from __future__ import annotations

import argparse
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient

from catalog_client.cli import add_subcommands, build_query
from tests.catalog_support import MINI_CATALOG


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bussola")
    add_subcommands(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(list(argv))


def _search(*argv: str) -> tuple[int, str]:
    args = _parse("catalog", "search", *argv)
    out = io.StringIO()
    code = args.func(args, out=out)
    return code, out.getvalue()


def test_search_prints_ranked_results_with_reasons() -> None:
    code, text = _search("--need", "casa", "--comune", "Collegno", "--text", "sfratto", "--limit", "3")
    assert code == 0
    lines = text.splitlines()
    assert lines[0].startswith("Catalogo: catalogo incorporato, dati al ")
    assert lines[1].startswith("1. Facilitatore di comunità WE.CA.RE. – Collegno e Grugliasco")
    assert "perché: bisogno: Casa; copre Collegno" in text
    assert sum(1 for line in lines if line[:3] in ("1. ", "2. ", "3. ")) == 3
    assert "4. " not in text


def test_search_accepts_quartiere_age_and_several_needs() -> None:
    code, text = _search("--need", "casa", "--need", "lavoro", "--quartiere", "Vallette")
    assert code == 0 and "sportello del quartiere Vallette" in text
    code, text = _search(
        "--need", "anziani", "--comune", "001090", "--eta", "70", "--data", str(MINI_CATALOG)
    )
    assert code == 0 and "Affido diurno di prova per anziani" in text and "per over 65" in text
    assert "fixture di test" in text  # the source is printed


def test_search_explains_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert _search("--need", "casa", "--comune", "Milano")[0] == 2
    assert "Comune non trovato" in capsys.readouterr().err
    assert _search("--need", "casa", "--quartiere", "Brooklyn")[0] == 2
    assert "Quartiere di Torino non riconosciuto" in capsys.readouterr().err
    assert _search("--need", "casa", "--lat", "45.1")[0] == 2
    with pytest.raises(SystemExit):
        _parse("catalog", "search", "--need", "astrologia")


def test_nothing_found_is_said_plainly() -> None:
    code, text = _search(
        "--need", "lavoro", "--comune", "Collegno", "--eta", "40", "--data", str(MINI_CATALOG)
    )
    assert code == 0 and "Nessun servizio trovato per questa richiesta." in text


def test_build_query_normalises_the_place() -> None:
    query = build_query(_parse("catalog", "search", "--need", "casa", "--need", "casa", "--comune", "cirie"))
    assert query.comune_istat == "001086" and query.needs == ("casa",)


def test_serve_runs_the_hsds_api_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    served: dict[str, Any] = {}

    def fake_run(app: Any, **kwargs: Any) -> None:
        served.update(kwargs, app=app)

    monkeypatch.setattr("uvicorn.run", fake_run)
    args = _parse("catalog", "serve", "--port", "8123", "--data", str(MINI_CATALOG))
    assert args.func(args) == 0
    assert served["port"] == 8123 and served["host"] == "127.0.0.1"
    body = TestClient(served["app"]).get("/services").json()
    assert body["total_items"] == 12
