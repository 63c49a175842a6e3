"""The NLU data is big enough, honest (held out, no template clones) and valid for Rasa.

Complements tests/test_nlu_lookups.py (annotations, places, generated files): this module checks the
size of every intent, the held-out split, near-duplicates, the domain and ``rasa data validate``.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from nlu import manage
from nlu.types import ALL_INTENTS, CONVERSATION_INTENTS, ENTITY_TYPES, MULTI_INTENT_SEPARATOR, NEED_INTENTS

ROOT = Path(__file__).resolve().parent.parent
TRAIN = ROOT / "nlu" / "data" / "train"
TEST = ROOT / "nlu" / "data" / "test"
DOMAIN = ROOT / "nlu" / "domain.yml"

MIN_NEED = 60
MIN_CONVERSATION = 25
MIN_TEST_RATIO = 0.20

# [text](entity), [text](entity:value), [text]{"entity": ...}: Rasa 3's annotation forms.
ANNOTATION = re.compile(r"\[(?P<text>[^\]]+)\](?:\((?P<entity>[^):]+)(?::[^)]*)?\)|\{(?P<json>[^}]*)\})")
JSON_ENTITY = re.compile(r'"entity"\s*:\s*"([^"]+)"')


@dataclass(frozen=True, slots=True)
class Example:
    file: str
    intent: str
    raw: str

    @property
    def text(self) -> str:
        return ANNOTATION.sub(lambda m: m.group("text"), self.raw)

    @property
    def entities(self) -> list[str]:
        out = []
        for m in ANNOTATION.finditer(self.raw):
            if m.group("entity"):
                out.append(m.group("entity").strip())
            else:
                out.extend(JSON_ENTITY.findall(m.group("json") or ""))
        return out


def load(directory: Path) -> list[Example]:
    out: list[Example] = []
    for path in sorted(directory.glob("*.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for item in doc.get("nlu") or []:
            if "intent" not in item:
                continue
            examples = item.get("examples") or ""
            for line in str(examples).splitlines():
                line = line.strip()
                if line.startswith("- "):
                    out.append(Example(path.name, str(item["intent"]), line[2:].strip()))
    return out


def _fold(text: str) -> str:
    t = unicodedata.normalize("NFKD", text.lower())
    t = "".join(ch for ch in t if unicodedata.category(ch) != "Mn")
    # Punctuation goes, emojis stay: "👍" and "👎" are different answers.
    t = "".join(" " if unicodedata.category(ch)[0] == "P" else ch for ch in t)
    return re.sub(r"\s+", " ", t).strip()


def exact_key(ex: Example) -> str:
    """The message compared loosely: case, accents, punctuation and spacing ignored."""
    return _fold(ex.text)


def template_key(ex: Example) -> str:
    """The message with digits and annotated entity values blanked: template clones collide here."""
    t = ANNOTATION.sub(lambda m: f" ENT{(m.group('entity') or 'x').strip().upper()} ", ex.raw)
    t = _fold(re.sub(r"\d+", " ", t))
    return t or ex.raw.strip()  # "?" and "123456" are different messages, not one empty template


@pytest.fixture(scope="module")
def train() -> list[Example]:
    return load(TRAIN)


@pytest.fixture(scope="module")
def test_split() -> list[Example]:
    return load(TEST)


def test_every_intent_has_enough_training_examples(train: list[Example]) -> None:
    counts = Counter(ex.intent for ex in train)
    small = {
        i: counts[i] for i in ALL_INTENTS if counts[i] < (MIN_NEED if i in NEED_INTENTS else MIN_CONVERSATION)
    }
    assert small == {}, f"too few examples (need {MIN_NEED}, conversation {MIN_CONVERSATION}): {small}"


def test_every_intent_is_in_the_test_split(test_split: list[Example]) -> None:
    assert set(ALL_INTENTS) - {ex.intent for ex in test_split} == set()


def test_test_split_is_big_enough(train: list[Example], test_split: list[Example]) -> None:
    assert len(test_split) >= MIN_TEST_RATIO * len(train), (len(test_split), len(train))


def test_multi_intents_in_test_are_trained(train: list[Example], test_split: list[Example]) -> None:
    trained = {ex.intent for ex in train}
    assert {ex.intent for ex in test_split} - trained == set()


def test_no_test_message_is_in_training(train: list[Example], test_split: list[Example]) -> None:
    seen = {exact_key(ex) for ex in train}
    leaked = [f"{ex.file}: {ex.text}" for ex in test_split if exact_key(ex) in seen]
    assert leaked == [], "held-out messages also in training:\n" + "\n".join(leaked)


def digits_key(ex: Example) -> str:
    return _fold(re.sub(r"\d+", " ", ex.text))


def test_no_test_message_is_a_training_one_with_other_numbers(
    train: list[Example], test_split: list[Example]
) -> None:
    """ "mio padre ha 85 anni" held out while "mio padre ha 80 anni" is trained would flatter the score.

    A held-out message may share a frame with training but name another place ("abito a Cuorgnè"
    vs "abito a Collegno"): recognising an unseen comune is exactly what the split should measure.
    """
    seen = {digits_key(ex): ex for ex in train}
    clones = [
        f"{ex.file}: {ex.text!r} ~ {seen[digits_key(ex)].text!r}"
        for ex in test_split
        if digits_key(ex) in seen
    ]
    assert clones == [], "held-out messages differing from training only by numbers:\n" + "\n".join(clones)


NEAR_COPY_RATIO = 0.9
NEAR_COPY_MIN_CHARS = 20  # "ok grazie" and "ok, grazie!" are the same two words, not a leak


def near_copies(train: list[Example], test_split: list[Example]) -> list[str]:
    """Held-out messages whose text is (almost) a training message with a few letters changed."""
    keys = [(exact_key(ex), ex) for ex in train]
    found = []
    for ex in test_split:
        key = exact_key(ex)
        if len(key) < NEAR_COPY_MIN_CHARS:
            continue
        for other_key, other in keys:
            if 2 * min(len(key), len(other_key)) < NEAR_COPY_RATIO * (len(key) + len(other_key)):
                continue  # too different in length for the ratio to reach the bound
            matcher = difflib.SequenceMatcher(None, key, other_key, autojunk=False)
            if matcher.real_quick_ratio() >= NEAR_COPY_RATIO and matcher.quick_ratio() >= NEAR_COPY_RATIO:
                if matcher.ratio() >= NEAR_COPY_RATIO:
                    found.append(f"{ex.file}: {ex.text!r} ~ {other.text!r}")
    return found


def test_no_test_message_is_a_near_copy_of_a_training_one(
    train: list[Example], test_split: list[Example]
) -> None:
    """A paraphrase that only swaps a letter or two ("ed ossa" / "e ossa") would flatter the score."""
    copies = near_copies(train, test_split)
    assert copies == [], "held-out messages nearly equal to training ones:\n" + "\n".join(copies)


def test_near_copy_check_catches_a_near_copy() -> None:
    trained = [Example("t.yml", "operatore", "mi passi qualcuno in carne e ossa")]
    assert near_copies(trained, [Example("h.yml", "operatore", "mi passate qualcuno in carne ed ossa")])
    assert not near_copies(trained, [Example("h.yml", "operatore", "voglio parlare con una persona vera")])


@pytest.mark.parametrize("split", ["train", "test"])
def test_no_near_duplicates_within_a_split(split: str) -> None:
    examples = load(TRAIN if split == "train" else TEST)
    groups: dict[str, list[Example]] = defaultdict(list)
    for ex in examples:
        groups[template_key(ex)].append(ex)
    dupes = [" | ".join(f"[{e.intent}] {e.text}" for e in g) for g in groups.values() if len(g) > 1]
    assert dupes == [], f"{len(dupes)} near-duplicate groups in {split}:\n" + "\n".join(dupes)


def test_template_key_catches_clones() -> None:
    a = Example("x.yml", "informa_luogo", "abito a [Collegno](comune) da 3 anni")
    b = Example("x.yml", "informa_luogo", "Abito a [Rivoli](comune) da 12 anni!")
    c = Example("x.yml", "informa_luogo", "abito a [Rivoli](comune) con mia figlia")
    assert template_key(a) == template_key(b) != template_key(c)
    assert exact_key(b) == "abito a rivoli da 12 anni"


def test_multi_intents_combine_known_needs(train: list[Example]) -> None:
    bad = {
        ex.intent
        for ex in train
        if MULTI_INTENT_SEPARATOR in ex.intent
        and (
            any(p not in NEED_INTENTS for p in ex.intent.split(MULTI_INTENT_SEPARATOR))
            or len(set(ex.intent.split(MULTI_INTENT_SEPARATOR)))
            != len(ex.intent.split(MULTI_INTENT_SEPARATOR))
        )
    }
    assert bad == set()


def test_domain_matches_the_data(train: list[Example], test_split: list[Example]) -> None:
    domain = yaml.safe_load(DOMAIN.read_text(encoding="utf-8"))
    intents = set(domain["intents"])
    assert set(ALL_INTENTS) <= intents
    assert intents == {ex.intent for ex in train}, "nlu/domain.yml and the training data list other intents"
    assert {ex.intent for ex in test_split} <= intents
    assert set(domain["entities"]) == set(ENTITY_TYPES)
    used = {e for ex in train + test_split for e in ex.entities}
    assert used <= set(ENTITY_TYPES)
    assert set(ENTITY_TYPES) <= {e for ex in train for e in ex.entities}, "an entity type is never taught"


def test_conversation_intents_are_not_needs() -> None:
    assert not set(CONVERSATION_INTENTS) & set(NEED_INTENTS)


def test_rasa_data_validate() -> None:
    from tests.conftest import require

    require(manage.rasa_available(), f"Rasa is not installed in {manage.RASA_VENV} (make deps)")
    proc = manage.validate()
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    problems = manage.relevant_warnings(output)
    assert problems == [], "\n".join(problems)
