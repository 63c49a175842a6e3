"""The trained model behind a real Rasa server through NLUClient (Rasa required in CI), and nlu.manage."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from pathlib import Path

import pytest

from nlu import manage
from nlu.client import NLUClient
from nlu.territory import comuni
from nlu.types import NLUUnavailable


@pytest.fixture
async def nlu(rasa_url: str, rasa_token: str) -> NLUClient:  # type: ignore[misc]
    async with NLUClient([rasa_url], token=rasa_token, timeout=10.0) as client:
        yield client


needs_rasa = pytest.mark.rasa


@needs_rasa
async def test_ready(nlu: NLUClient) -> None:
    assert await nlu.ready() is True


@pytest.mark.parametrize(
    "text",
    [
        "mio marito mi picchia e stasera ho paura di tornare a casa",
        "non ce la faccio più, voglio farla finita",
        "mia madre è caduta e non respira bene",
    ],
)
@needs_rasa
async def test_emergencies_are_recognised(nlu: NLUClient, text: str) -> None:
    result = await nlu.parse(text)
    assert "emergenza" in result.intents, (text, result.intent)


@needs_rasa
async def test_abito_a_collegno(nlu: NLUClient) -> None:
    result = await nlu.parse("abito a Collegno")
    assert result.intents == ("informa_luogo",)
    assert result.comune is not None and result.comune.istat == "001090"
    assert result.comune.name == "Collegno"


@needs_rasa
async def test_multi_intent(nlu: NLUClient) -> None:
    result = await nlu.parse("ho perso il lavoro e adesso non riesco più a pagare l'affitto, ci sfrattano")
    assert {"casa", "lavoro"} <= set(result.intents), result.intent


@needs_rasa
async def test_indirect_need(nlu: NLUClient) -> None:
    result = await nlu.parse("mi hanno staccato la luce perché non ho pagato")
    assert "reddito" in result.intents, result.intent


@needs_rasa
async def test_age_and_recipient(nlu: NLUClient) -> None:
    result = await nlu.parse("scrivo per mia madre che ha 87 anni e vive da sola a Moncalieri")
    assert result.comune is not None and result.comune.name == "Moncalieri"
    assert result.eta == 87
    assert result.destinatario is not None and "madre" in result.destinatario


@needs_rasa
async def test_every_comune_is_found_even_if_never_seen_in_training(nlu: NLUClient) -> None:
    """The lookup table makes all 312 comuni extractable, whatever the training data mentions."""
    names = [c.name for c in comuni()]
    sem = asyncio.Semaphore(8)

    async def found(name: str) -> str | None:
        async with sem:
            result = await nlu.parse(f"abito a {name}")
        return result.comune.name if result.comune else None

    got = await asyncio.gather(*(found(n) for n in names))
    missed = [n for n, g in zip(names, got, strict=True) if g != n]
    assert missed == []


@needs_rasa
async def test_wrong_token_is_refused(rasa_url: str) -> None:
    async with NLUClient([rasa_url], token="wrong", timeout=5.0) as client:
        with pytest.raises(NLUUnavailable, match="token"):
            await client.parse("ciao")
        assert await client.ready() is False


# --- nlu.manage without a server: content hash, idempotent training, evaluation figures ----------


FAKE_RASA = """\
import http.server, json, sys
from pathlib import Path

calls = Path(sys.argv[0]).parent.parent.parent / "calls"
with calls.open("a") as fh:
    fh.write(sys.argv[1] + "\\n")
args = sys.argv[1:]
opt = lambda name: args[args.index(name) + 1] if name in args else ""
if args[0] == "train":
    Path(opt("--out"), "model.tar.gz").write_text("model " + Path(opt("--config")).read_text())
    sys.exit(0)
if args[0] != "run" or "broken" in Path(opt("-m")).read_text():
    sys.exit(1)
model, token = Path(opt("-m")).name, opt("--auth-token")

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ok = not token or f"token={token}" in self.path
        body = json.dumps({"model_file": model} if ok else {"code": 401}).encode()
        self.send_response(200 if ok else 401)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass

http.server.HTTPServer((opt("-i"), int(opt("-p"))), Handler).serve_forever()
"""


def _project(tmp_path: Path) -> manage.Project:
    """A throw-away NLU project whose ``rasa`` is a stub: it "trains" a fake model, counts calls,
    and "runs" a tiny HTTP server answering ``/status`` like Rasa (token included)."""
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "nlu.yml").write_text('version: "3.1"\nnlu: []\n')
    (tmp_path / "test").mkdir()
    (tmp_path / "config.yml").write_text("language: it\n")
    (tmp_path / "pin.txt").write_text("rasa==3.6.21\n")
    (tmp_path / "components").mkdir()
    (tmp_path / "components" / "classifier.py").write_text("class Classifier: ...\n")
    venv = tmp_path / "venv" / "bin"
    venv.mkdir(parents=True)
    stub = venv / "rasa"
    stub.write_text(f"#!{sys.executable}\n" + FAKE_RASA)
    stub.chmod(0o755)
    return manage.Project(
        config=tmp_path / "config.yml",
        domain=tmp_path / "domain.yml",
        train_dir=tmp_path / "train",
        test_dir=tmp_path / "test",
        models_dir=tmp_path / "models",
        pin=tmp_path / "pin.txt",
        components=tmp_path / "components",
        rasa_venv=tmp_path / "venv",
    )


def test_model_name_follows_config_components_training_data_and_pin(tmp_path: Path) -> None:
    project = _project(tmp_path)
    first = manage.model_path(project)
    assert re.fullmatch(r"nlu-[0-9a-f]{16}\.tar\.gz", first.name)
    assert manage.model_path(project) == first
    (tmp_path / "test" / "extra.yml").write_text("held-out data does not shape the model\n")
    assert manage.model_path(project) == first
    names = {first.name}
    for path, text in [
        (tmp_path / "train" / "nlu.yml", 'version: "3.1"\nnlu: [] # edited\n'),
        (tmp_path / "train" / "more.yml", "x\n"),
        (tmp_path / "config.yml", "language: it\npipeline: []\n"),
        (tmp_path / "pin.txt", "rasa==3.6.22\n"),
        (tmp_path / "components" / "classifier.py", "class Classifier:\n    C = 30\n"),
    ]:
        path.write_text(text)
        names.add(manage.model_path(project).name)
    assert len(names) == 6


def test_train_is_idempotent_and_atomic(tmp_path: Path) -> None:
    project = _project(tmp_path)
    first = manage.train(project, log=None)
    assert first.trained and first.path.read_text() == "model language: it\n"
    assert first.path == manage.model_path(project)
    record = manage.training_record(first.path)
    assert record is not None and record["seconds"] >= 0
    again = manage.train(project, log=None)
    assert not again.trained and again.path == first.path
    assert (tmp_path / "calls").read_text().count("train") == 1
    assert [p.name for p in project.models_dir.iterdir() if p.is_dir()] == []  # no temp dirs left
    manage.train(project, force=True, log=None)
    assert (tmp_path / "calls").read_text().count("train") == 2


def test_failed_training_leaves_no_model(tmp_path: Path) -> None:
    project = _project(tmp_path)
    (project.rasa_venv / "bin" / "rasa").write_text("#!/bin/sh\necho broken >&2\nexit 3\n")
    with pytest.raises(RuntimeError, match="exit 3"):
        manage.train(project, log=None)
    assert not manage.model_path(project).exists()


def test_launch_waits_for_the_model_and_stop_ends_it(tmp_path: Path) -> None:
    project = _project(tmp_path)
    server = manage.launch(token="tok", project=project, timeout=30)
    try:
        assert server.status["model_file"] == manage.model_path(project).name
        assert manage.server_status(server.url, "tok") == server.status
        assert manage.server_status(server.url, "wrong") is None
    finally:
        server.stop()
    assert server.proc.poll() is not None and not manage.port_in_use(server.port)


def test_launch_fails_fast_when_rasa_dies(tmp_path: Path) -> None:
    project = _project(tmp_path)
    model = manage.train(project, log=None).path
    model.write_text("broken")
    log = tmp_path / "rasa.log"
    with pytest.raises(RuntimeError, match="exited with code 1"):
        manage.launch(model, project=project, log_path=log, timeout=60)


def test_ensure_starts_once_and_restarts_on_a_new_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path)
    monkeypatch.setattr(manage, "VAR_DIR", tmp_path / "var")
    port = manage.free_port()
    try:
        assert manage.ensure(port, background=True, token="t", project=project) == 0
        first_pid = int((tmp_path / "var" / f"rasa-{port}.pid").read_text())
        assert manage.ensure(port, background=True, token="t", project=project) == 0
        assert "already serving" in capsys.readouterr().out
        (tmp_path / "train" / "nlu.yml").write_text('version: "3.1"\nnlu: [] # new data\n')
        assert manage.ensure(port, background=True, token="t", project=project) == 0
        second_pid = int((tmp_path / "var" / f"rasa-{port}.pid").read_text())
        assert second_pid != first_pid and not manage._alive(first_pid)
        status = manage.server_status(f"http://127.0.0.1:{port}", "t")
        assert status is not None and status["model_file"] == manage.model_path(project).name
    finally:
        pid = manage._read_pid(tmp_path / "var" / f"rasa-{port}.pid")
        if pid is not None:
            manage.stop_pid(pid)


def test_ensure_refuses_a_port_taken_by_someone_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    project = _project(tmp_path)
    monkeypatch.setattr(manage, "VAR_DIR", tmp_path / "var")
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        assert manage.ensure(port, background=True, project=project) == 1
    assert "taken by another program" in capsys.readouterr().err


def test_free_port_is_free() -> None:
    port = manage.free_port()
    assert 0 < port < 65536 and not manage.port_in_use(port)


def _pred(expected: str, predicted: str) -> manage.Prediction:
    return manage.Prediction("t", expected, predicted, 0.9)


def test_summary_figures() -> None:
    preds = [
        _pred("casa", "casa"),
        _pred("casa", "reddito"),
        _pred("reddito", "reddito"),
        _pred("emergenza", "emergenza"),
        _pred("emergenza", "nlu_fallback"),
        _pred("casa+lavoro", "lavoro"),
    ]
    s = manage.summarise(preds)
    # exact labels: casa+lavoro is a class of its own
    assert s.per_label_f1["casa"].f1 == pytest.approx(2 / 3)  # P 1/1, R 1/2
    assert s.per_label_f1["reddito"].f1 == pytest.approx(2 / 3)  # P 1/2, R 1/1
    assert s.per_label_f1["casa+lavoro"].f1 == 0.0
    assert set(s.per_label_f1) == {"casa", "reddito", "emergenza", "casa+lavoro"}  # not nlu_fallback
    assert s.label_macro_f1 == pytest.approx((2 / 3 + 2 / 3 + 2 / 3 + 0.0) / 4)
    # by part: casa+lavoro -> lavoro is a hit for lavoro and a miss for casa
    assert set(s.per_intent_f1) == {"casa", "lavoro", "reddito", "emergenza"}
    assert s.per_intent_f1["casa"].recall == pytest.approx(1 / 3) and s.per_intent_f1["casa"].precision == 1.0
    assert s.per_intent_f1["lavoro"].f1 == 1.0
    assert s.per_intent_f1["emergenza"].f1 == pytest.approx(2 / 3)
    assert s.macro_f1 == pytest.approx((0.5 + 1.0 + 2 / 3 + 2 / 3) / 4)
    assert s.emergenza_recall == 0.5 and s.emergenza_support == 2
    assert s.accuracy == pytest.approx(3 / 6)
    assert ("casa", "reddito", 1) in s.confused and not s.passes()


def test_emergenza_recall_counts_multi_intents() -> None:
    preds = [_pred("emergenza+casa", "emergenza"), _pred("emergenza", "casa+emergenza")]
    assert manage.part_recall(preds, "emergenza") == (1.0, 2)
    assert manage.part_recall([_pred("casa", "casa")], "emergenza") == (0.0, 0)


def test_entity_scores_merge_extractors_like_the_client() -> None:
    text = "abito a Collegno con mia madre"
    examples = [
        {
            "text": text,
            "entities": [
                {"entity": "comune", "start": 8, "end": 16},
                {"entity": "destinatario", "start": 21, "end": 30},
            ],
            "predicted_entities": [
                {
                    "entity": "comune",
                    "start": 8,
                    "end": 16,
                    "value": "Collegno",
                    "extractor": "RegexEntityExtractor",
                },
                {
                    "entity": "comune",
                    "start": 8,
                    "end": 16,
                    "value": "Collegno",
                    "extractor": "DIETClassifier",
                },
                {"entity": "destinatario", "start": 25, "end": 30, "value": "madre"},
            ],
        }
    ]
    overall, per = manage.entity_scores(examples)
    assert per["comune"].f1 == 1.0  # the duplicate from the second extractor is not a false positive
    assert per["destinatario"].f1 == 0.0 and per["destinatario"].support == 1
    assert overall.precision == 0.5 and overall.recall == 0.5


def test_read_results(tmp_path: Path) -> None:
    (tmp_path / "intent_successes.json").write_text(
        json.dumps(
            [{"text": "a", "intent": "casa", "intent_prediction": {"name": "casa", "confidence": 0.9}}]
        )
    )
    (tmp_path / "intent_errors.json").write_text(
        json.dumps(
            [{"text": "b", "intent": "cibo", "intent_prediction": {"name": "casa", "confidence": 0.5}}]
        )
    )
    row = {"text": "vivo a Rivoli", "entities": [{"entity": "comune", "start": 7, "end": 13}]}
    row["predicted_entities"] = [{"entity": "comune", "start": 7, "end": 13, "value": "Rivoli"}]
    (tmp_path / "DIETClassifier_successes.json").write_text(json.dumps([row]))
    (tmp_path / "DIETClassifier_report.json").write_text(json.dumps({"comune": {"f1-score": 1.0}}))
    s = manage.read_results(tmp_path)
    assert s.examples == 2 and s.per_intent_f1["cibo"].recall == 0.0
    assert s.entity_overall.f1 == 1.0 and s.extractor_f1 == {"DIETClassifier": {"comune": 1.0}}
    assert "intent macro-F1" in manage.format_summary(s)


def test_figures_by_held_out_file(tmp_path: Path) -> None:
    (tmp_path / "old.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: casa\n  examples: |\n    - sfratto a [Rivoli](comune)\n'
        "    - cerco casa\n",
        encoding="utf-8",
    )
    (tmp_path / "new.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: cibo\n  examples: |\n    - pacco alimentare\n'
        "- intent: emergenza\n  examples: |\n    - mi picchia\n    - non respira\n",
        encoding="utf-8",
    )
    files = manage.held_out_files(tmp_path)
    assert files == {
        "sfratto a Rivoli": "old.yml",
        "cerco casa": "old.yml",
        "pacco alimentare": "new.yml",
        "mi picchia": "new.yml",
        "non respira": "new.yml",
    }
    preds = [
        manage.Prediction("sfratto a Rivoli", "casa", "casa", 0.9),
        manage.Prediction("cerco casa", "casa", "casa", 0.9),
        manage.Prediction("pacco alimentare", "cibo", "casa", 0.6),
        manage.Prediction("mi picchia", "emergenza", "emergenza", 1.0),
        manage.Prediction("non respira", "emergenza", "salute", 0.5),
    ]
    s = manage.summarise(preds, files=files)
    assert s.by_file["old.yml"] == (2, 1.0, 1.0, 0, 0)
    new = s.by_file["new.yml"]
    assert (new.examples, new.accuracy, new.emergenza_found, new.emergenza_support) == (3, 1 / 3, 1, 2)
    assert "emergenza 1/2" in manage.format_summary(s)


def test_relevant_warnings() -> None:
    out = (
        "/x/io.py:100: UserWarning: The intent 'casa' is not used in any story or rule.\n"
        "\x1b[93m/x/io.py:100: UserWarning: There is a message in the training data labeled with intent "
        "'casa+cibo'. This intent is not listed in your domain.\x1b[0m\n"
        "/x/y.py:1: DeprecationWarning: pkg_resources is deprecated\n"
    )
    assert manage.relevant_warnings(out) == [
        "There is a message in the training data labeled with intent 'casa+cibo'. "
        "This intent is not listed in your domain."
    ]
