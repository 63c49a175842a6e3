"""The NLU training data is consistent with the territory and with itself.

Checks every file under ``nlu/data`` (whoever wrote it): generated lookups/synonyms are up to date,
place annotations resolve to a real comune or Turin neighbourhood (a typo in an annotation would
teach Rasa to extract a place the app cannot use), entity types and intent names are known, spans
sit on word boundaries, and test messages are held out from training.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from nlu import lookups
from nlu.territory import QUARTIERI, circoscrizione_of, comuni, find_comune, find_quartiere, fold
from nlu.types import ALL_INTENTS, CONVERSATION_INTENTS, ENTITY_TYPES, MULTI_INTENT_SEPARATOR

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "nlu" / "data"

# Rasa 3's own annotation grammar: [text](entity), [text](entity:value), [text]{json}, [text][{json}, ...]
ENTITY_RE = re.compile(
    r"\[(?P<text>[^\]]+?)\]"
    r"(?:\((?P<entity>[^:)]+?)(?::(?P<value>[^)]+))?\)"
    r"|\{(?P<dict>[^}]+?)\}"
    r"|\[(?P<list>.*?)\])"
)


@dataclass(frozen=True)
class Example:
    path: Path
    intent: str
    text: str

    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)} [{self.intent}] {self.text!r}"


def _data_files() -> list[Path]:
    return sorted(p for ext in ("yml", "yaml") for p in DATA.rglob(f"*.{ext}"))


def _load(path: Path) -> list[dict[str, object]]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return list(doc.get("nlu") or [])


def _lines(examples: object) -> Iterator[str]:
    """Examples as Rasa reads them: a ``- text`` block, or a list of ``{text: ...}`` items."""
    if isinstance(examples, str):
        for line in examples.splitlines():
            line = line.strip()
            if line.startswith("- "):
                yield line[2:].strip()
    elif isinstance(examples, list):
        for item in examples:
            if isinstance(item, dict) and "text" in item:
                yield str(item["text"]).strip()


def _examples(paths: list[Path]) -> list[Example]:
    out: list[Example] = []
    for path in paths:
        for item in _load(path):
            if "intent" in item:
                out.extend(Example(path, str(item["intent"]), t) for t in _lines(item.get("examples")))
    return out


def _synonyms(paths: list[Path]) -> dict[str, str]:
    out: dict[str, str] = {}
    for path in paths:
        for item in _load(path):
            if "synonym" in item:
                out.update({v.lower(): str(item["synonym"]) for v in _lines(item.get("examples"))})
    return out


def _annotations(text: str) -> Iterator[tuple[re.Match[str], str, str | None]]:
    """(match, entity type, explicit value or None) for every entity annotated in ``text``."""
    for m in ENTITY_RE.finditer(text):
        if m.group("entity"):
            yield m, m.group("entity").strip(), m.group("value")
        else:
            raw = m.group("dict")
            specs = (
                json.loads("{" + raw + "}") if raw is not None else json.loads("[" + m.group("list") + "]")
            )
            for spec in specs if isinstance(specs, list) else [specs]:
                value = spec.get("value")
                yield m, str(spec.get("entity", "")), None if value is None else str(value)


def plain(text: str) -> str:
    """The message as the user typed it, annotations removed."""
    return ENTITY_RE.sub(lambda m: m.group("text"), text)


def _place_resolves(entity: str, value: str) -> bool:
    if entity == "comune":
        return find_comune(value) is not None
    return find_quartiere(value) is not None or circoscrizione_of(value) is not None


def annotation_problems(example: Example, synonyms: dict[str, str]) -> list[str]:
    """Everything wrong with the entity annotations of one example (empty when it is fine)."""
    problems = []
    try:
        found = list(_annotations(example.text))
    except (json.JSONDecodeError, AttributeError) as exc:
        return [f"{example.where()}: unreadable annotation ({exc})"]
    for m, entity, explicit in found:
        span = m.group("text")
        if entity not in ENTITY_TYPES:
            problems.append(f"{example.where()}: unknown entity type {entity!r}")
            continue
        value = explicit if explicit is not None else synonyms.get(span.lower(), span)
        if entity in ("comune", "quartiere") and not _place_resolves(entity, value):
            problems.append(f"{example.where()}: {entity} {value!r} is not a known place")
        if entity == "eta" and not value.isdigit():
            problems.append(f"{example.where()}: eta {value!r} must be digits")
        if not (span[0].isalnum() and span[-1].isalnum()):
            problems.append(f"{example.where()}: span {span!r} must start and end on a letter or digit")
        before = example.text[m.start() - 1] if m.start() > 0 else " "
        after = example.text[m.end()] if m.end() < len(example.text) else " "
        if before.isalnum() or after.isalnum():
            problems.append(f"{example.where()}: span {span!r} cuts a word in half")
    if "[" in plain(example.text) or "]" in plain(example.text):
        problems.append(f"{example.where()}: brackets without a valid entity annotation")
    return problems


# --- generated files ---------------------------------------------------------------------------


def test_generated_files_are_up_to_date(tmp_path: Path) -> None:
    lookups.write(tmp_path)
    for name in (lookups.LOOKUPS_FILE, lookups.SYNONYMS_FILE):
        committed = (lookups.DEFAULT_DIR / name).read_text(encoding="utf-8")
        assert committed == (tmp_path / name).read_text(encoding="utf-8"), (
            f"nlu/data/train/{name} is stale: run `.venv/bin/python -m nlu.lookups`"
        )


def test_generator_is_deterministic() -> None:
    assert lookups.render_lookups() == lookups.render_lookups()
    assert lookups.render_synonyms() == lookups.render_synonyms()


def _tables() -> dict[str, list[str]]:
    items = _load(lookups.DEFAULT_DIR / lookups.LOOKUPS_FILE)
    return {str(i["lookup"]): list(_lines(i["examples"])) for i in items if "lookup" in i}


def test_comune_lookup_has_every_comune_and_only_comuni() -> None:
    table = _tables()["comune"]
    assert {c.name for c in comuni()} <= set(table)
    assert len(comuni()) == 312
    unresolved = [name for name in table if find_comune(name) is None]
    assert unresolved == []
    assert table == sorted(table) and len(table) == len(set(table))


def test_quartiere_lookup_resolves_and_covers_circoscrizioni() -> None:
    table = _tables()["quartiere"]
    assert {q.name for q in QUARTIERI} <= set(table)
    assert {f"circoscrizione {n}" for n in range(1, 9)} <= set(table)
    assert [n for n in table if circoscrizione_of(n) is None] == []


def test_synonym_targets_are_official_names() -> None:
    official = {c.name for c in comuni()} | {q.name for q in QUARTIERI}
    path = lookups.DEFAULT_DIR / lookups.SYNONYMS_FILE
    items = [i for i in _load(path) if "synonym" in i]
    assert items, "no synonyms generated"
    assert sorted(str(i["synonym"]) for i in items) == [str(i["synonym"]) for i in items]
    variants: list[str] = []
    for item in items:
        target = str(item["synonym"])
        assert target in official, f"synonym target {target!r} is not an official comune or quartiere"
        for variant in _lines(item["examples"]):
            assert variant == variant.lower()
            assert variant != target.lower()
            assert fold(variant) in {fold(target), *(fold(a) for a in _aliases_of(target))}
            variants.append(variant)
    assert len(variants) == len(set(variants)), "a variant maps to more than one place"


def _aliases_of(target: str) -> set[str]:
    from nlu.territory import COMUNE_ALIASES

    out = {a for a, official in COMUNE_ALIASES.items() if find_comune(official) == find_comune(target)}
    out |= {a for q in QUARTIERI if q.name == target for a in q.aliases}
    return out


@pytest.mark.parametrize(
    ("variant", "target"),
    [("cuorgne", "Cuorgnè"), ("cirie", "Ciriè"), ("turin", "Torino"), ("barriera", "Barriera di Milano")],
)
def test_everyday_variants_are_synonyms(variant: str, target: str) -> None:
    assert _synonyms([lookups.DEFAULT_DIR / lookups.SYNONYMS_FILE])[variant] == target


def test_apostrophe_names_survive_yaml() -> None:
    syn = _synonyms([lookups.DEFAULT_DIR / lookups.SYNONYMS_FILE])
    assert syn["sant ambrogio"] == "Sant'Ambrogio di Torino"
    assert "Sauze d'Oulx" in _tables()["comune"]


# --- annotations in every training and test file -----------------------------------------------


def test_every_data_file_is_valid_rasa_yaml() -> None:
    files = _data_files()
    assert files, "no NLU data found"
    for path in files:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert isinstance(doc, dict) and str(doc.get("version")) == "3.1", path
        assert isinstance(doc.get("nlu"), list), path


def test_annotations_name_known_entities_and_places() -> None:
    files = _data_files()
    synonyms = _synonyms(files)
    problems = [p for ex in _examples(files) for p in annotation_problems(ex, synonyms)]
    assert problems == [], "\n".join(problems)


def test_intent_names_are_known() -> None:
    unknown = [
        ex.where()
        for ex in _examples(_data_files())
        if any(part not in ALL_INTENTS for part in ex.intent.split(MULTI_INTENT_SEPARATOR))
    ]
    assert unknown == [], "\n".join(unknown)


def norm(text: str) -> str:
    """A message compared loosely: no annotations, case, accents or punctuation (emojis kept)."""
    t = unicodedata.normalize("NFKD", plain(text).lower())
    t = "".join(ch for ch in t if unicodedata.category(ch) != "Mn")
    return re.sub(r"[\s.,;:!?'\"’()-]+", " ", t).strip()


def _split(ex: Example) -> str:
    return ex.path.relative_to(DATA).parts[0]


def test_test_messages_are_held_out_from_training() -> None:
    examples = _examples(_data_files())
    train = {norm(ex.text) for ex in examples if _split(ex) == "train"}
    leaked = [ex.where() for ex in examples if _split(ex) == "test" and norm(ex.text) in train]
    assert leaked == [], "test messages also in training:\n" + "\n".join(leaked)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("abito a [Torinoo](comune)", "not a known place"),
        ("zona [Barriera di Milan](quartiere)", "not a known place"),
        ("sto a [Ivrea](citta)", "unknown entity type"),
        ("ha [ottanta](eta) anni", "must be digits"),
        ("abito a [Rivol](comune)i", "cuts a word"),
        ("abito a [Via Roma]", "brackets without"),
        ('a [Colegno]{"entity": "comune", "value": "Colegnio"}', "not a known place"),
    ],
)
def test_checker_catches_bad_annotations(text: str, expected: str) -> None:
    problems = annotation_problems(Example(DATA / "x.yml", "informa_luogo", text), {})
    assert any(expected in p for p in problems), problems
    assert "x.yml" in problems[0] and text in problems[0]


@pytest.mark.parametrize(
    "text",
    [
        "abito a [Collegno](comune)",
        "[settimo](comune)",
        "[cuorgne](comune)",
        "[circoscrizione 6](quartiere)",
        '[Colegno]{"entity": "comune", "value": "Collegno"}',
        "per [mia madre](destinatario) di [80](eta) anni",
        "sun d'[Ivrea](comune)",
    ],
)
def test_checker_accepts_good_annotations(text: str) -> None:
    synonyms = _synonyms([lookups.DEFAULT_DIR / lookups.SYNONYMS_FILE])
    assert annotation_problems(Example(DATA / "x.yml", "informa_luogo", text), synonyms) == []


# --- the conversation intents this project's data must cover -----------------------------------


def _conversation_counts(split: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {i: set() for i in CONVERSATION_INTENTS}
    for ex in _examples([DATA / split / "conversation.yml"]):
        out[ex.intent].add(norm(ex.text))
    return out


def test_conversation_training_data_is_big_enough() -> None:
    counts = {i: len(v) for i, v in _conversation_counts("train").items()}
    small = {i: n for i, n in counts.items() if n < (60 if i in ("per_altri", "informa_luogo") else 35)}
    assert small == {}, counts


def test_conversation_test_data_is_big_enough() -> None:
    counts = {i: len(v) for i, v in _conversation_counts("test").items()}
    assert all(n >= 10 for n in counts.values()), counts


def test_place_examples_use_many_different_places() -> None:
    synonyms = _synonyms(_data_files())
    places: dict[str, set[str]] = {"comune": set(), "quartiere": set()}
    for ex in _examples([DATA / "train" / "conversation.yml"]):
        if ex.intent != "informa_luogo":
            continue
        for m, entity, explicit in _annotations(ex.text):
            if entity in places:
                value = explicit or synonyms.get(m.group("text").lower(), m.group("text"))
                places[entity].add(fold(value))
    assert len(places["comune"]) >= 50 and len(places["quartiere"]) >= 20, places
