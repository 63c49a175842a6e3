"""The embedded catalogue data: valid HSDS 3.0, complete for every need and comune, nothing invented.

Validation runs offline against the official HSDS 3.0 JSON Schemas in ``../shared/hsds-3.0`` (or
``HSDS_SCHEMA_DIR``): their GitHub addresses are mapped to the local files with ``referencing``.
Contacts are checked against the source documents in ``../shared/seeds`` (or ``BUSSOLA_SEEDS_DIR``):
a phone number, e-mail, web address or street address may appear only if the record's source gives it.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from catalog_client import build_data
from nlu.territory import QUARTIERI, comune_by_istat, comuni
from nlu.types import NEED_INTENTS
from tests.conftest import require

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "catalog_client" / "data"
SCHEMA_URL = "https://raw.githubusercontent.com/openreferral/specification/3.0/schema/"
NATIONAL = "numero pubblico nazionale"
PUBLIC = "conoscenza pubblica, da verificare"
# The public national numbers the catalogue may carry (digits only).
NATIONAL_NUMBERS = {
    "112",
    "1522",
    "114",
    "19696",
    "0223272327",
    "800290290",
    "800995988",
    "803164",
    "06164164",
}
NATIONAL_URLS = {"https://www.inps.it"}
REQUIRED_SERVICES = (
    "Casa del Quartiere di San Salvario",
    "Cascina Roccafranca",
    "Casa nel Parco",
    "Più SpazioQuattro",
    "Barrito",
    "Cecchi Point",
    "Vallette",
    "Dote per l'inclusione",
    "dentista",
    "oculista",
    "Madri di Quartiere",
    "Carovana Salvacibo",
    "Spazi AnCoRe",
    "Mi affido a te",
    "Solidarietà Alimentare",
    "RI-abitare la città",
    "Cittadella del Welfare",
    "Sportello di pubblica tutela al Tribunale di Ivrea",
    "Centro famiglia del Consorzio IN.RE.TE.",
    "Centro famiglia del C.I.S.S. 38",
    "Centro famiglia del C.I.S.S.-A.C.",
    "Centro famiglia del C.I.S.",
    "Operatore sociale di comunità",
    "Centro Famiglie diffuso della Val di Susa",
    "Casa della Salute",
    "Trasporto a domanda",
    "Farmacie",
    "Cohousing",
    "digitale",
    "WE.CA.RE.",
    "Consorzio Ovest Solidale",
)
ENGLISH_WORDS = re.compile(r"\b(the|and|with|your|please|service|free|help)\b", re.IGNORECASE)
PHONE_IN_TEXT = re.compile(r"(?<![\w:/])(?:\+\d{2}\s?)?\d(?:[ .]?\d){5,}(?![\w])")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
URL = re.compile(r"https?://[^\s\"'«»]+")


# ---------------------------------------------------------------------------------------------- locating


def _shared(sub: str, env: str) -> Path | None:
    if os.environ.get(env):
        return Path(os.environ[env])
    path = REPO.parent / "shared" / sub
    return path if path.is_dir() else None


def schema_dir() -> Path:
    base = _shared("hsds-3.0", "HSDS_SCHEMA_DIR")
    require(base is not None and base.is_dir(), "HSDS 3.0 schemas not found (set HSDS_SCHEMA_DIR)")
    assert base is not None
    return base if (base / "service.json").is_file() else base / "schema"


def seeds_dir() -> Path:
    base = _shared("seeds", "BUSSOLA_SEEDS_DIR")
    require(base is not None and base.is_dir(), "seed documents not found (set BUSSOLA_SEEDS_DIR)")
    assert base is not None
    return base


@cache
def load(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def services() -> list[dict[str, Any]]:
    return load("services.json")  # type: ignore[no-any-return]


@cache
def seed_text(name: str) -> str:
    return (seeds_dir() / name).read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------------- schemas


def _strict(node: Any) -> Any:
    """A copy of a schema where every object with declared properties rejects unknown ones."""
    if isinstance(node, dict):
        out = {k: _strict(v) for k, v in node.items()}
        if isinstance(node.get("properties"), dict) and node.get("type") == "object":
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_strict(v) for v in node]
    return node


def _format_checker() -> FormatChecker:
    checker = copy.deepcopy(Draft202012Validator.FORMAT_CHECKER)

    @checker.checks("uri")
    def _uri(value: object) -> bool:
        if not isinstance(value, str):
            return True
        parsed = urlparse(value)
        return parsed.scheme in {"http", "https"} and bool(parsed.netloc)

    @checker.checks("date-time", raises=ValueError)
    def _date_time(value: object) -> bool:
        if isinstance(value, str):
            datetime.fromisoformat(value)
        return True

    return checker


@cache
def validator(name: str, strict: bool = False) -> Draft202012Validator:
    root = schema_dir()

    def retrieve(uri: str) -> Resource[Any]:
        if not uri.startswith(SCHEMA_URL):
            raise LookupError(uri)
        contents = json.loads((root / uri.removeprefix(SCHEMA_URL)).read_text(encoding="utf-8"))
        return Resource.from_contents(
            _strict(contents) if strict else contents, default_specification=DRAFT202012
        )

    registry: Registry[Any] = Registry(retrieve=retrieve)  # type: ignore[call-arg]
    return Draft202012Validator(
        {"$ref": SCHEMA_URL + name}, registry=registry, format_checker=_format_checker()
    )


def schema_errors(record: Any, name: str, strict: bool = False) -> list[str]:
    return [
        "/".join(map(str, e.absolute_path)) + ": " + e.message[:160]
        for e in validator(name, strict).iter_errors(record)
    ]


def test_schema_validation_catches_bad_records() -> None:
    good = services()[0]
    assert schema_errors(good, "service.json") == []
    bad = copy.deepcopy(good)
    bad["id"] = "not-a-uuid"
    bad["status"] = "open"
    bad["service_areas"][0].pop("id")
    errors = schema_errors(bad, "service.json")
    assert len(errors) >= 3, errors
    typo = copy.deepcopy(good)
    typo["eligibility"] = "typo of eligibility_description"
    assert schema_errors(typo, "service.json") == []  # the official schemas allow extra fields
    assert schema_errors(typo, "service.json", strict=True)  # our strict check does not


@pytest.mark.parametrize("schema", ["service.json", "compiled/service.json"])
def test_every_service_is_valid_hsds(schema: str) -> None:
    problems = {s["name"]: errs for s in services() if (errs := schema_errors(s, schema))}
    assert problems == {}


def test_every_service_uses_only_hsds_fields() -> None:
    problems = {
        s["name"]: errs for s in services() if (errs := schema_errors(s, "service.json", strict=True))
    }
    assert problems == {}


@pytest.mark.parametrize(
    ("file", "schemas"),
    [
        ("organizations.json", ("organization.json", "compiled/organization.json")),
        ("taxonomies.json", ("taxonomy.json",)),
        ("taxonomy_terms.json", ("taxonomy_term.json",)),
    ],
)
def test_other_files_are_valid_hsds(file: str, schemas: tuple[str, ...]) -> None:
    records = load(file)
    assert records
    for schema in schemas:
        for strict in (False, True):
            problems = {r["name"]: errs for r in records if (errs := schema_errors(r, schema, strict))}
            assert problems == {}, (schema, strict)


# ---------------------------------------------------------------------------------------------- structure


def _walk(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every (path, dict) in a record, not descending into shared objects (organization, term)."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            if key not in {"organization", "taxonomy_term"}:
                yield from _walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}/{i}")


def test_ids_are_unique_and_shared_objects_match_their_files() -> None:
    seen: Counter[str] = Counter()
    for record in services():
        for _path, obj in _walk(record):
            seen[obj["id"]] += 1
    for name in ("organizations.json", "taxonomies.json", "taxonomy_terms.json"):
        for obj in load(name):
            seen[obj["id"]] += 1
    assert [i for i, n in seen.items() if n > 1] == []
    orgs = {o["id"]: o for o in load("organizations.json")}
    terms = {t["id"]: t for t in load("taxonomy_terms.json")}
    for record in services():
        assert record["organization"] == orgs[record["organization_id"]]
        for attr in record["attributes"]:
            assert attr["taxonomy_term"] == terms[attr["taxonomy_term_id"]]
    used_orgs = {s["organization_id"] for s in services()}
    assert used_orgs == set(orgs), "every organization is used by a service"


def test_children_point_to_their_parents() -> None:
    for record in services():
        sid = record["id"]
        for key in (
            "phones",
            "schedules",
            "service_areas",
            "service_at_locations",
            "languages",
            "cost_options",
        ):
            assert all(child["service_id"] == sid for child in record[key]), (record["name"], key)
        for doc in record["required_documents"]:
            assert doc["service_id"] == sid and doc["document"].strip()
        for sal in record["service_at_locations"]:
            location = sal["location"]
            assert sal["location_id"] == location["id"]
            assert all(a["location_id"] == location["id"] for a in location["addresses"])
        for attr in record["attributes"]:
            assert (attr["link_id"], attr["link_entity"], attr["link_type"]) == (sid, "service", "service")


def test_taxonomies_have_the_need_codes_of_the_nlu_and_the_meta_terms() -> None:
    taxonomies = {t["name"]: t["id"] for t in load("taxonomies.json")}
    assert set(taxonomies) == {"bussola-bisogni", "bussola-meta"}
    terms = load("taxonomy_terms.json")
    needs = [t for t in terms if t["taxonomy"] == "bussola-bisogni"]
    assert sorted(t["code"] for t in needs) == sorted(NEED_INTENTS)
    assert all(t["taxonomy_id"] == taxonomies["bussola-bisogni"] for t in needs)
    assert all(t["name"].strip() and t["description"].strip() and t["language"] == "it" for t in terms)
    meta = {t["code"] for t in terms if t["taxonomy"] == "bussola-meta"}
    assert meta == {"fonte", "da_verificare", "quartiere", "destinatari"}


def facts(record: dict[str, Any]) -> dict[str, list[str]]:
    """attribute values by term code (need codes map to themselves)."""
    out: dict[str, list[str]] = {}
    for attr in record["attributes"]:
        out.setdefault(attr["taxonomy_term"]["code"], []).append(attr["value"])
    return out


def needs_of(record: dict[str, Any]) -> set[str]:
    return {
        a["taxonomy_term"]["code"]
        for a in record["attributes"]
        if a["taxonomy_term"]["taxonomy"] == "bussola-bisogni"
    }


def test_every_service_names_one_source_and_says_whether_to_verify() -> None:
    sources = load("meta.json")["sources"]
    for record in services():
        f = facts(record)
        assert len(f.get("fonte", [])) == 1, record["name"]
        assert f["fonte"][0] in sources, record["name"]
        assert f.get("da_verificare") in (["true"], ["false"]), record["name"]
        if f["fonte"][0] == PUBLIC:
            assert f["da_verificare"] == ["true"], record["name"]
        assert needs_of(record), record["name"]
        assert f.get("destinatari"), record["name"]
    for org in load("organizations.json"):
        assert [a["value"] for a in org["attributes"]][0] in sources


def test_meta_names_the_date_and_every_source() -> None:
    meta = load("meta.json")
    assert set(meta) == {"data_as_of", "sources"}
    date.fromisoformat(meta["data_as_of"])
    seed_files = {p.name for p in seeds_dir().glob("*.txt")}
    assert seed_files <= set(meta["sources"])
    assert set(meta["sources"]) - seed_files == {NATIONAL, PUBLIC}
    used = {facts(s)["fonte"][0] for s in services()}
    assert used == set(meta["sources"]), "every source is used"


def test_service_areas_are_comuni_with_their_istat_code() -> None:
    for record in services():
        assert record["service_areas"], record["name"]
        for area in record["service_areas"]:
            code = area["description"].removeprefix("ISTAT:")
            assert area["description"].startswith("ISTAT:"), record["name"]
            if code == "TO":
                assert area["name"] == "Città metropolitana di Torino"
            else:
                comune = comune_by_istat(code)
                assert comune is not None and comune.name == area["name"], (record["name"], area)


def test_turin_neighbourhoods_are_known_and_only_on_turin_services() -> None:
    known = {q.name for q in QUARTIERI}
    with_quartiere = [s for s in services() if facts(s).get("quartiere")]
    assert len(with_quartiere) >= 7
    for record in with_quartiere:
        assert set(facts(record)["quartiere"]) <= known, record["name"]
        assert {a["description"] for a in record["service_areas"]} == {"ISTAT:001272"}, record["name"]


def _covers(record: dict[str, Any], istat: str) -> bool:
    return any(a["description"] in (f"ISTAT:{istat}", "ISTAT:TO") for a in record["service_areas"])


def test_every_need_has_somewhere_to_go_in_every_comune() -> None:
    active = [s for s in services() if s["status"] == "active"]
    all_comuni = comuni()
    assert len(all_comuni) == 312
    missing = [
        (need, c.name)
        for need in NEED_INTENTS
        for c in all_comuni
        if not any(need in needs_of(s) and _covers(s, c.istat) for s in active)
    ]
    assert missing == []


def test_the_required_services_are_there() -> None:
    names = [s["name"] for s in services()]
    assert len(names) >= 40
    assert len(set(names)) == len(names)
    missing = [r for r in REQUIRED_SERVICES if not any(r.lower() in n.lower() for n in names)]
    assert missing == []
    desks = [s for s in services() if s["name"].startswith("Sportello sociale – ")]
    assert len(desks) == 7
    emergency_numbers = {
        re.sub(r"\D", "", p["number"]) for s in services() if "emergenza" in needs_of(s) for p in s["phones"]
    }
    assert {"112", "1522", "114", "19696", "0223272327"} <= emergency_numbers


def test_eligibility_follows_the_sources() -> None:
    by_name = {s["name"]: s for s in services()}
    assert by_name["Mi affido a te"]["minimum_age"] == 65
    assert "65" in by_name["Spazi AnCoRe"]["eligibility_description"]
    for record in services():
        lo, hi = record.get("minimum_age"), record.get("maximum_age")
        if lo is not None and hi is not None:
            assert lo <= hi, record["name"]


def test_texts_are_plain_italian_with_a_first_sentence() -> None:
    for record in services():
        description = record["description"]
        first = re.split(r"(?<=[.!?])\s", description, maxsplit=1)[0]
        assert first.endswith((".", "!", "?")) and 20 <= len(first) <= 260, record["name"]
        assert record["application_process"].strip(), record["name"]
        for field in ("name", "description", "application_process", "eligibility_description", "alert"):
            text = record.get(field, "")
            assert not ENGLISH_WORDS.search(text), (record["name"], field, ENGLISH_WORDS.findall(text))


# ---------------------------------------------------------------------------------------------- sources


def _digits(number: str) -> str:
    text = number.strip()
    digits = re.sub(r"\D", "", text)
    return digits[2:] if text.startswith("+39") else digits


@cache
def seed_numbers(name: str) -> frozenset[str]:
    return frozenset(_digits(m) for m in re.findall(r"\+?\d[\d .]{4,}\d", seed_text(name)))


def _strings(node: Any, key: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for k, v in node.items():
            if k not in {"organization", "taxonomy_term", "id", "last_modified"} and not k.endswith("_id"):
                yield from _strings(v, k)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v, key)
    elif isinstance(node, str):
        yield key, node


def unsourced_contacts(record: dict[str, Any], fonte: str) -> list[str]:
    """Phones, e-mails, web and street addresses of a record that its source does not give."""
    problems = []
    text = seed_text(fonte) if fonte not in (NATIONAL, PUBLIC) else ""
    allowed_numbers = NATIONAL_NUMBERS if fonte == NATIONAL else seed_numbers(fonte) if text else frozenset()
    for key, value in _strings(record):
        if value.startswith("ISTAT:"):
            continue
        numbers = [value] if key == "number" else PHONE_IN_TEXT.findall(value)
        problems += [f"phone {n}" for n in numbers if _digits(n) not in allowed_numbers]
        for email in EMAIL.findall(value):
            if email not in text:
                problems.append(f"email {email}")
        for url in URL.findall(value):
            if url not in text and not (fonte == NATIONAL and url in NATIONAL_URLS):
                problems.append(f"url {url}")
        if key in {"address_1", "postal_code"} and value not in text:
            problems.append(f"address {value}")
    return problems


def test_contact_check_catches_invented_contacts() -> None:
    record = copy.deepcopy(next(s for s in services() if s["name"] == "Spazi AnCoRe"))
    fonte = facts(record)["fonte"][0]
    assert unsourced_contacts(record, fonte) == []
    record["phones"][0]["number"] = "+39 011 1234567"
    record["application_process"] += " Oppure chiama lo 011 7654321 o scrivi a info@example.org."
    record["url"] = "https://example.org/ancore"
    problems = unsourced_contacts(record, fonte)
    assert len(problems) == 4, problems
    assert unsourced_contacts({"phones": [{"number": "1522"}]}, PUBLIC) == ["phone 1522"]


def test_no_contact_is_invented() -> None:
    problems = {}
    for record in services():
        fonte = facts(record)["fonte"][0]
        if found := unsourced_contacts(record, fonte):
            problems[record["name"]] = found
    for org in load("organizations.json"):
        fonte = org["attributes"][0]["value"]
        if found := unsourced_contacts(org, fonte):
            problems[org["name"]] = found
    assert problems == {}


def test_seed_phone_numbers_are_all_used_where_they_belong() -> None:
    """The catalogue carries the phones the sources give (fax excluded), so none is lost either."""
    used = {_digits(p["number"]) for s in services() for p in s["phones"]}
    assert {"0119501401", "0114037121", "0119501417"} <= used
    assert "0119501425" not in used  # the fax


def test_opening_hours_appear_only_where_a_source_gives_them() -> None:
    for record in services():
        schedules = list(record["schedules"])
        for sal in record["service_at_locations"]:
            schedules += sal.get("schedules", []) + sal["location"].get("schedules", [])
        if schedules:
            assert facts(record)["fonte"] == [NATIONAL], record["name"]
            assert all(s["description"] == "24 ore su 24" and "opens_at" not in s for s in schedules)


def test_public_knowledge_records_carry_no_contacts() -> None:
    for record in services():
        if facts(record)["fonte"] == [PUBLIC]:
            assert record["phones"] == [] and record["contacts"] == [], record["name"]
            assert not record.get("email") and not record.get("url"), record["name"]
            assert all(sal["location"]["addresses"] == [] for sal in record["service_at_locations"])


# ---------------------------------------------------------------------------------------------- generator


def test_committed_files_equal_a_fresh_build() -> None:
    built = build_data.build()
    assert set(built) == {p.name for p in DATA.glob("*.json")}
    stale = [
        name for name, obj in built.items() if build_data.render(obj) != (DATA / name).read_text("utf-8")
    ]
    assert stale == [], "run: python -m catalog_client.build_data"


def test_generator_rejects_unknown_places_and_needs() -> None:
    with pytest.raises(ValueError, match="comune"):
        build_data._area("x", "Torinoo")
    orgs = {o.key: build_data.organization(o) for o in build_data.ORGS}
    bad = build_data.SERVICES[0]
    with pytest.raises(ValueError, match="need"):
        build_data.service(
            build_data.Svc(**{**_fields(bad), "needs": ("casa", "felicita")}),
            orgs,
        )
    with pytest.raises(ValueError, match="neighbourhood"):
        build_data.service(build_data.Svc(**{**_fields(bad), "quartieri": ("Atlantide",)}), orgs)


def _fields(svc: build_data.Svc) -> dict[str, Any]:
    return {name: getattr(svc, name) for name in build_data.Svc.__dataclass_fields__}


def test_identifiers_are_stable() -> None:
    assert build_data.uid("service", "nue-112") == build_data.uid("service", "nue-112")
    by_name = {s["name"]: s["id"] for s in services()}
    assert by_name["112 – Numero unico di emergenza"] == build_data.uid("service", "nue-112")
