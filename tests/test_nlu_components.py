"""Our own Rasa components (nlu/rasa_components), trained, stored, loaded and run inside Rasa's venv.

The app never imports rasa, so these tests drive a small script in ``.venv-rasa`` and read its JSON.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path
from typing import Any

from nlu import manage
from tests.conftest import require

# What a component test script starts with: argv = work directory, training examples, probe texts (JSON);
# a model storage, a resource and an execution context, as Rasa's graph gives a component.
PRELUDE = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    work = Path(sys.argv[1])
    examples = json.loads(sys.argv[2])
    probes = json.loads(sys.argv[3])
    (work / "storage").mkdir()
    storage = LocalModelStorage(work / "storage")
    resource = Resource("component")
    context = ExecutionContext(GraphSchema({}), "test")
    """
)

SCRIPT = PRELUDE + textwrap.dedent(
    """
    from nlu.rasa_components.intent_classifier import MODEL_FILE, TfidfIntentClassifier

    config = {"ranking_length": 3}
    data = TrainingData([Message(data={"text": t, "intent": i}) for t, i in examples])
    trained = TfidfIntentClassifier.create(config, storage, resource, context)
    trained.train(data)

    def parse(component):
        messages = [Message(data={"text": t}) for t in probes]
        component.process(messages)
        return [{"intent": m.get("intent"), "ranking": m.get("intent_ranking")} for m in messages]

    out = {"trained": parse(trained)}
    out["loaded"] = parse(TfidfIntentClassifier.load(config, storage, resource, context))
    # A stored model holding a type we never write (a pickled function) must not be loaded.
    import skops.io as sio
    with storage.read_from(resource) as directory:
        sio.dump({"model": trained.model, "surprise": print}, directory / MODEL_FILE)
    out["tampered"] = parse(TfidfIntentClassifier.load(config, storage, resource, context))
    print(json.dumps(out))
    """
)

TRAINING = [
    *[
        (t, "casa")
        for t in (
            "mi sfrattano",
            "cerco casa in affitto",
            "non pago l'affitto da mesi",
            "dormo in macchina, niente alloggio",
            "casa popolare ATC domanda",
        )
    ],
    *[
        (t, "cibo")
        for t in (
            "non ho da mangiare",
            "pacco alimentare dove",
            "mensa per i poveri",
            "frigo vuoto bambini fame",
            "spesa solidale emporio",
        )
    ],
    *[
        (t, "casa+cibo")
        for t in ("sfrattato e senza cibo", "niente casa e niente da mangiare", "dormo in strada e ho fame")
    ],
    *[(t, "saluto") for t in ("ciao", "buongiorno", "salve", "buonasera a tutti", "ehi ciao")],
]
PROBES = ["mi hanno sfrattato ieri", "dove trovo un pacco alimentare", "ciao!", ""]


def _run_in_rasa(script: str, *args: str) -> Any:
    """Run ``script`` with Rasa's python from the repository root; its last stdout line is JSON."""
    require(manage.rasa_available(), f"Rasa is not installed in {manage.RASA_VENV} (make deps)")
    python = manage.RASA_VENV / "bin" / "python"
    proc = subprocess.run(  # noqa: S603 - our own venv's python and script
        [str(python), "-c", script, *args],
        cwd=manage.ROOT,
        env=manage.rasa_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _run(tmp_path: Path) -> dict[str, Any]:
    result: dict[str, Any] = _run_in_rasa(SCRIPT, str(tmp_path), json.dumps(TRAINING), json.dumps(PROBES))
    return result


def test_classifier_trains_ranks_stores_and_refuses_unexpected_files(tmp_path: Path) -> None:
    out = _run(tmp_path)
    trained, loaded, tampered = out["trained"], out["loaded"], out["tampered"]
    assert [p["intent"]["name"] if p["intent"] else None for p in trained] == ["casa", "cibo", "saluto", None]
    for parse in trained[:3]:
        ranking = parse["ranking"]
        assert len(ranking) == 3  # ranking_length
        confidences = [r["confidence"] for r in ranking]
        assert confidences == sorted(confidences, reverse=True)
        assert parse["intent"] == ranking[0] and 0 < sum(confidences) <= 1.0 + 1e-9
    assert loaded == trained  # what is stored is what was trained
    assert all(p["intent"] is None for p in tampered)  # not loaded: it predicts nothing


SAFETY_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from rasa.shared.nlu.training_data.message import Message
    from nlu.rasa_components.safety_net import EmergencyPhraseClassifier

    net = EmergencyPhraseClassifier.create({}, None, None, None)
    cases = json.loads(sys.argv[1])
    messages = []
    for text, intent, ranking in cases:
        data = {"text": text}
        if intent is not None:
            data["intent"] = {"name": intent, "confidence": ranking[0][1]}
            data["intent_ranking"] = [{"name": n, "confidence": c} for n, c in ranking]
        messages.append(Message(data=data))
    net.process(messages)
    print(json.dumps([
        {
            "intent": m.get("intent"),
            "ranking": [r["name"] for r in m.get("intent_ranking") or []],
            "net": m.get("safety_net"),
        }
        for m in messages
    ]))
    """
)

# (text, the intent before the net, its ranking, the intent after the net, why the net fired)
SAFETY_CASES: list[tuple[str, str | None, list[tuple[str, float]], str | None, str | None]] = [
    # a danger phrase wins over a confident model ...
    (
        "cerco casa ma mio marito mi PICCHIA",
        "casa",
        [("casa", 0.9), ("emergenza", 0.05)],
        "emergenza",
        "phrase",
    ),
    # ... and over FallbackClassifier's doubt
    (
        "ho preso tutte le pastiglie",
        "nlu_fallback",
        [("nlu_fallback", 0.3), ("salute", 0.2)],
        "emergenza",
        "phrase",
    ),
    # FallbackClassifier withheld an emergenza that was the model's best guess: it is given back
    (
        "non so",
        "nlu_fallback",
        [("nlu_fallback", 0.7), ("emergenza", 0.25), ("salute", 0.2)],
        "emergenza",
        "fallback",
    ),
    # ... but not an unlikely emergenza that was only second
    (
        "non so",
        "nlu_fallback",
        [("nlu_fallback", 0.7), ("salute", 0.25), ("emergenza", 0.15)],
        "nlu_fallback",
        None,
    ),
    # the model's doubt: emergenza at DOUBT_THRESHOLD (0.2) or more is enough, even second
    ("non so", "casa", [("casa", 0.6), ("emergenza", 0.2), ("reddito", 0.1)], "emergenza", "doubt"),
    ("non so", "casa", [("casa", 0.7), ("emergenza", 0.19), ("reddito", 0.1)], "casa", None),
    # a phrase that only names a harm counts when the model is unsure ...
    ("lui è violento", "famiglia", [("famiglia", 0.5), ("casa", 0.3)], "emergenza", "phrase"),
    # ... not when it is sure of something else (CONTEXT_GATE 0.8): an event that is over
    (
        "due anni fa ho denunciato il mio ex per stalking, serve un avvocato",
        "tutela_legale",
        [("tutela_legale", 0.9), ("emergenza", 0.05)],
        "tutela_legale",
        None,
    ),
    # an emergenza the model found is left as the model said it
    ("mi picchia", "emergenza", [("emergenza", 0.7), ("famiglia", 0.2)], "emergenza", None),
    # no phrase: untouched, including a bill "threat" (a veto word) and nothing at all
    ("mi minacciano il distacco della luce", "reddito", [("reddito", 0.8), ("casa", 0.1)], "reddito", None),
    ("cerco un corso di italiano", "migranti", [("migranti", 0.95)], "migranti", None),
    ("", None, [], None, None),
]


def test_safety_net_component_sets_emergenza_on_danger_phrases_and_withheld_emergencies() -> None:
    cases = [[text, intent, ranking] for text, intent, ranking, _, _ in SAFETY_CASES]
    out = _run_in_rasa(SAFETY_SCRIPT, json.dumps(cases))
    for (text, before, ranking, after, reason), parse in zip(SAFETY_CASES, out, strict=True):
        assert (parse["intent"] or {}).get("name") == after, text
        assert parse["net"] == reason, text
        if after == "emergenza" and before != "emergenza":
            assert parse["intent"]["confidence"] == 1.0
            # the model's own guesses stay visible below emergenza; nlu_fallback does not
            kept = [name for name, _ in ranking if name not in ("emergenza", "nlu_fallback")]
            assert parse["ranking"] == ["emergenza", *kept]
        elif before is not None:
            assert parse["ranking"] == [name for name, _ in ranking]


DESTINATARIO_SCRIPT = PRELUDE + textwrap.dedent(
    """
    from nlu.rasa_components.destinatario import DestinatarioExtractor, MODEL_FILE

    data = TrainingData([Message(data={"text": t, "intent": "x", "entities": e}) for t, e in examples])
    trained = DestinatarioExtractor.create({}, storage, resource, context)
    trained.train(data)

    def run(component):
        out = []
        for text in probes:
            # what DIET proposed before: a destinatario (to be replaced) and a comune (to be kept)
            diet = {"start": 0, "end": 1, "value": text[:1], "extractor": "DIETClassifier"}
            before = [{"entity": "destinatario", **diet}, {"entity": "comune", **diet}]
            message = Message(data={"text": text, "entities": before})
            component.process([message])
            out.append([[e["entity"], e["value"], e["extractor"]] for e in message.get("entities")])
        return out

    loaded = DestinatarioExtractor.load({}, storage, resource, context)
    # crfsuite reads the model from memory it does not own: whatever happens to the bytes read from the
    # file (garbage collected, memory reused), the loaded tagger must still work
    import gc
    gc.collect()
    reuse = [bytes(10_000) for _ in range(200)]
    result = {"trained": run(trained), "loaded": run(loaded)}
    with storage.write_to(resource) as directory:
        (directory / MODEL_FILE).write_bytes(b"not a crfsuite model")
    result["broken"] = run(DestinatarioExtractor.load({}, storage, resource, context))
    print(json.dumps(result))
    """
)


def _marked(text: str) -> tuple[str, list[dict[str, Any]]]:
    """'cerco aiuto per [mia madre]' -> the text and its destinatario entity."""
    start, end = text.index("["), text.index("]")
    plain = text.replace("[", "").replace("]", "")
    value = plain[start : end - 1]
    return plain, [{"entity": "destinatario", "start": start, "end": end - 1, "value": value}]


# Messages for someone else, the person marked as in Rasa's training data, and messages for oneself.
FOR_SOMEONE = (
    "cerco una badante per [mia madre]",
    "[mio padre] non cammina più",
    "scrivo per [la mia vicina] che è sola",
    "[mia figlia] cerca lavoro",
    "aiuto per [il nonno] che non vede",
    "[mio figlio] ha bisogno di un dentista",
    "[la signora del piano di sopra] non ha da mangiare",
    "per [mia sorella] serve un avvocato",
    "[mio marito] è disabile e serve aiuto",
    "[mia nonna] vive da sola",
)
FOR_ONESELF = (
    "cerco lavoro",
    "non ho soldi per la bolletta",
    "mi serve una casa",
    "ho bisogno di un dentista",
    "vivo da sola",
    "non ho da mangiare",
)
DESTINATARIO_TRAINING = [*map(_marked, FOR_SOMEONE), *((t, []) for t in FOR_ONESELF)]
DESTINATARIO_PROBES = ["cerco aiuto per mia madre", "non ho soldi per l'affitto", ""]


def test_destinatario_extractor_trains_replaces_diets_answer_and_survives_a_broken_file(
    tmp_path: Path,
) -> None:
    out = _run_in_rasa(
        DESTINATARIO_SCRIPT, str(tmp_path), json.dumps(DESTINATARIO_TRAINING), json.dumps(DESTINATARIO_PROBES)
    )
    mother, rent, empty = out["trained"]
    mine = "DestinatarioExtractor"
    assert mother == [["comune", "c", "DIETClassifier"], ["destinatario", "mia madre", mine]]
    assert rent == [["comune", "n", "DIETClassifier"]]  # DIET's guess replaced by none
    assert empty == [["comune", "", "DIETClassifier"]]
    assert out["loaded"] == out["trained"]  # what is stored is what was trained
    # a file crfsuite cannot read: nothing is found, DIET's answer is left as it was, nothing breaks
    assert all(any(e[0] == "destinatario" and e[2] == "DIETClassifier" for e in p) for p in out["broken"][:2])


PIPELINE_CONFIG = """
recipe: default.v1
language: it
assistant_id: components-test
pipeline:
  - name: WhitespaceTokenizer
  - name: nlu.rasa_components.destinatario.DestinatarioExtractor
  - name: nlu.rasa_components.intent_classifier.TfidfIntentClassifier
  - name: FallbackClassifier
    threshold: 0.3
  - name: nlu.rasa_components.safety_net.EmergencyPhraseClassifier
policies: []
"""

PARSE_SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys
    from rasa.core.agent import Agent

    agent = Agent.load(sys.argv[1])
    out = []
    for text in json.loads(sys.argv[2]):
        parse = asyncio.run(agent.parse_message(text))
        out.append({
            "intent": parse["intent"]["name"],
            "entities": [[e["entity"], e["value"]] for e in parse["entities"]],
            "net": parse.get("safety_net"),
        })
    print(json.dumps(out))
    """
)


def _training_yaml(intent: str, examples: tuple[str, ...]) -> str:
    lines = [f"- intent: {intent}", "  examples: |"]
    lines += [f"    - {t.replace(']', '](destinatario)')}" for t in examples]
    return "\n".join(lines)


def test_our_components_train_and_serve_inside_rasa(tmp_path: Path) -> None:
    """What Rasa itself does with them: its fingerprinting, its model archive, its loaded graph."""
    require(manage.rasa_available(), f"Rasa is not installed in {manage.RASA_VENV} (make deps)")
    (tmp_path / "config.yml").write_text(PIPELINE_CONFIG, encoding="utf-8")
    data = "\n".join(
        [
            'version: "3.1"',
            "nlu:",
            _training_yaml("per_altri", FOR_SOMEONE),
            _training_yaml("casa", FOR_ONESELF),
        ]
    )
    (tmp_path / "nlu.yml").write_text(data + "\n", encoding="utf-8")
    python = manage.RASA_VENV / "bin" / "python"
    train = subprocess.run(  # noqa: S603 - our own venv's rasa
        [
            str(python),
            "-m",
            "rasa",
            "train",
            "nlu",
            "-c",
            "config.yml",
            "--nlu",
            "nlu.yml",
            "--out",
            "models",
        ],
        cwd=tmp_path,
        env=manage.rasa_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert train.returncode == 0, (train.stdout + train.stderr)[-3000:]
    (model,) = (tmp_path / "models").glob("*.tar.gz")
    probes = ["cerco aiuto per mia madre", "mio marito mi picchia"]
    helped, danger = _run_in_rasa(PARSE_SCRIPT, str(model), json.dumps(probes))
    assert ["destinatario", "mia madre"] in helped["entities"]
    assert (danger["intent"], danger["net"]) == ("emergenza", "phrase")
