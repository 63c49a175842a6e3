"""Our own Rasa component (nlu/rasa_components), trained, stored and loaded inside Rasa's venv.

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

SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData
    from nlu.rasa_components.intent_classifier import MODEL_FILE, TfidfIntentClassifier

    work = Path(sys.argv[1])
    examples = json.loads(sys.argv[2])
    probes = json.loads(sys.argv[3])
    (work / "storage").mkdir()
    storage = LocalModelStorage(work / "storage")
    resource = Resource("intent")
    context = ExecutionContext(GraphSchema({}), "test")
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


def _run(tmp_path: Path) -> dict[str, Any]:
    require(manage.rasa_available(), f"Rasa is not installed in {manage.RASA_VENV} (make deps)")
    python = manage.RASA_VENV / "bin" / "python"
    proc = subprocess.run(  # noqa: S603 - our own venv's python and script
        [str(python), "-c", SCRIPT, str(tmp_path), json.dumps(TRAINING), json.dumps(PROBES)],
        cwd=manage.ROOT,
        env=manage.rasa_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


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
