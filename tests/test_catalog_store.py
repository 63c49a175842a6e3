"""The catalogue store: loading HSDS data, cards in plain Italian, run-time replacement, text tools."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from catalog_client.cards import dialable, first_sentence, hours_in_words
from catalog_client.embedded import EmbeddedCatalog
from catalog_client.models import Schedule, Service
from catalog_client.schema import InvalidRecord, errors_of
from catalog_client.store import CatalogStore
from catalog_client.text import query_terms, stem
from catalog_client.types import MatchQuery

MINI = Path(__file__).parent / "data" / "catalog_mini"
HSDS_EXAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "hsds-3.0" / "examples"


@pytest.fixture
def store() -> CatalogStore:
    return CatalogStore.from_dir(MINI)


def _by_name(store: CatalogStore, fragment: str) -> dict:
    return next(s for s in store.services() if fragment in s["name"])


def test_loads_every_service_with_needs_and_meta(store: CatalogStore) -> None:
    raw = json.loads((MINI / "services.json").read_text())
    assert len(store) == len(raw)
    assert store.data_as_of is not None and store.data_as_of.date().isoformat() == "2025-01-15"
    desk = store.card(_by_name(store, "Vallette")["id"])
    assert desk is not None
    assert set(desk.needs) >= {"casa", "lavoro", "migranti"}
    assert desk.source == "fixture di test"
    assert store.index.entries[desk.id].quartieri == ("Vallette",)


def test_fixture_is_valid_hsds() -> None:
    for record in json.loads((MINI / "services.json").read_text()):
        assert errors_of(record, "service") == [], record["name"]


def test_card_is_plain_and_faithful(store: CatalogStore) -> None:
    desk = store.card(_by_name(store, "Vallette")["id"])
    assert desk is not None
    assert desk.description == "Sportello di ascolto a bassa soglia: orienta e accompagna verso i servizi."
    assert desk.hours == "Lunedì e mercoledì dalle 9 alle 12:30"
    assert desk.address == "Casa di prova Vallette – Via di Prova 1, 10151 Torino"
    assert (desk.latitude, desk.longitude) == (45.108, 7.636)
    assert desk.organization == "Rete di prova delle Case"  # from organizations.json by organization_id
    dentist = store.card(_by_name(store, "dentistiche")["id"])
    assert dentist is not None
    assert dentist.cost == "Gratuito"
    assert dentist.documents == ("Documento d'identità",)
    assert dentist.hours == ""  # no schedule: nothing invented
    assert dentist.phones == ()
    elderly = store.card(_by_name(store, "Affido")["id"])
    assert elderly is not None
    assert [p.number for p in elderly.phones] == ["+390119501401"]
    assert elderly.who_for == "Per persone dai 65 anni in su."
    metro = store.card(_by_name(store, "metropolitana")["id"])
    assert metro is not None and metro.to_verify is True


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("011 9501417", "+390119501417"),
        ('"+39 011 403.71.21"', "+390114037121"),
        ("0039 333 1234567", "+393331234567"),
        ("112", "112"),
        ("1522", "1522"),
        ("800 123 456", "800123456"),
        ("n/d", ""),
    ],
)
def test_phone_numbers_are_dialable(raw: str, expected: str) -> None:
    assert dialable(raw) == expected


def test_hours_in_words() -> None:
    week = Schedule(byday="MO,TU,WE,TH,FR", opens_at="09:00:00", closes_at="13:00:00")
    tuesday = Schedule(byday="TU", opens_at="14:30", closes_at="17:00", notes="solo su appuntamento")
    assert hours_in_words([week]) == "Dal lunedì al venerdì dalle 9 alle 13"
    assert hours_in_words([tuesday]) == "Martedì dalle 14:30 alle 17 (solo su appuntamento)"
    assert hours_in_words([Schedule(description="Su appuntamento.")]) == "Su appuntamento"
    assert hours_in_words([Schedule()]) == ""


def test_first_sentence_is_short() -> None:
    assert first_sentence("Aiuta con la casa. Poi altro.") == "Aiuta con la casa."
    long = "parola " * 80
    cut = first_sentence(long)
    assert cut.endswith("…") and len(cut) <= 241


def test_reads_the_official_hsds_example() -> None:
    record = json.loads((HSDS_EXAMPLES / "service_full.json").read_text())
    store = CatalogStore(services=[record])
    card = store.card(record["id"])
    assert card is not None
    assert card.name == "Community Counselling"
    assert card.organization == "Example Organization Inc."
    assert card.phones and card.phones[0].number == "+441234234567"
    assert card.needs == ()  # its taxonomy is not Bussola's


def test_tolerates_unknown_fields_and_nulls() -> None:
    service = Service.model_validate({"id": "x", "name": "S", "phones": None, "novita": {"a": 1}})
    assert service.phones == []
    assert service.model_extra == {"novita": {"a": 1}}


def test_unreadable_record_is_skipped_not_fatal() -> None:
    store = CatalogStore(services=[{"name": "no id"}, {"id": "ok", "name": "Ok", "status": "active"}])
    assert [s["id"] for s in store.services()] == ["ok"]


async def test_replace_service_is_used_at_once(store: CatalogStore) -> None:
    catalog = EmbeddedCatalog(store)
    collegno = MatchQuery(needs=("casa",), comune_istat="001090", limit=10)
    record = copy.deepcopy(_by_name(store, "Sportello casa di prova Collegno"))
    before = [m.service.id for m in await catalog.match(collegno)]
    assert record["id"] in before
    version = store.version

    record["name"] = "Sportello casa di prova Collegno (nuovo nome)"
    record["service_areas"] = [{"id": "a1", "name": "Rivoli", "description": "ISTAT:001219"}]
    card = store.replace_service(record)

    assert card.name.endswith("(nuovo nome)")
    assert store.version == version + 1
    assert record["id"] not in [m.service.id for m in await catalog.match(collegno)]
    rivoli = await catalog.match(MatchQuery(needs=("casa",), comune_istat="001219", limit=10))
    assert record["id"] in [m.service.id for m in rivoli]
    assert (await catalog.get(record["id"])) == card
    assert store.service(record["id"])["name"].endswith("(nuovo nome)")


def test_replace_service_rejects_invalid_records(store: CatalogStore) -> None:
    record = copy.deepcopy(_by_name(store, "Vallette"))
    del record["status"]
    record["phones"] = [{"id": "p"}]
    with pytest.raises(InvalidRecord) as err:
        store.replace_service(record)
    assert any("status" in e for e in err.value.errors)
    assert any(e.startswith("phones/0") for e in err.value.errors)
    assert store.service(record["id"])["status"] == "active"  # unchanged


def test_replace_service_adds_a_new_record(store: CatalogStore) -> None:
    new = {
        "id": "0f1e2d3c-0000-4000-8000-00000000abcd",
        "name": "Nuovo servizio di prova",
        "status": "active",
        "description": "Un servizio aggiunto dal team.",
        "attributes": [
            {
                "id": "n1",
                "taxonomy_term_id": next(t["id"] for t in store.taxonomy_terms() if t["code"] == "cibo"),
            }
        ],
        "service_areas": [{"id": "n2", "name": "Collegno", "description": "ISTAT:001090"}],
    }
    store.replace_service(new)
    assert len(store) == 13
    entry = store.index.entries[new["id"]]
    assert entry.needs == {"cibo"} and entry.order == max(e.order for e in store.index.entries.values())
    assert store.remove_service(new["id"]) is True
    assert store.remove_service(new["id"]) is False
    assert new["id"] not in store.index.entries


def test_inactive_services_are_never_matched(store: CatalogStore) -> None:
    closed = _by_name(store, "chiuso")
    assert closed["id"] not in {e.id for e in store.index.by_need["casa"]}
    assert store.card(closed["id"]) is not None  # still readable by id


def test_payload_round_trip(store: CatalogStore) -> None:
    again = CatalogStore.from_payload(json.loads(json.dumps(store.to_payload())))
    assert [s["id"] for s in again.services()] == [s["id"] for s in store.services()]
    assert again.data_as_of == store.data_as_of


@pytest.mark.parametrize(
    ("a", "b"),
    [("sfratto", "sfrattato"), ("affitto", "affitti"), ("disabilità", "disabili"), ("lavoro", "lavorare")],
)
def test_light_stemming_joins_inflections(a: str, b: str) -> None:
    from catalog_client.text import normalise

    assert stem(normalise(a)) == stem(normalise(b))


def test_query_terms_drop_stop_words_and_keep_the_citizen_words() -> None:
    terms = query_terms("Ciao, mi hanno SFRATTATO e non so dove andare!!! 😢")
    assert [w for _, w in terms] == ["sfrattato", "andare"]
    assert query_terms("") == [] and query_terms("🙂🙂") == []
