"""Train, serve, evaluate and validate Bussola's Rasa NLU model, from the app's venv.

Rasa lives in its own Python 3.10 venv (``.venv-rasa``); this module only shells out to its ``rasa``
executable and never imports rasa. Other code (test fixtures, benchmarks) imports the helpers:
:func:`model_path`, :func:`train`, :func:`free_port`, :func:`launch` / :class:`RasaServer`.

A model is named after a content hash of everything that shapes it (pipeline config, every training
file, the pinned Rasa version), so ``train`` is idempotent and ``make run`` retrains exactly when
something changed.

Usage (``python -m nlu.manage ...``)::

    train [--force]                      train when no model matches the current config and data
    serve --port P                       rasa run --enable-api in the foreground
    ensure --port P [--background]       train if needed, start the server, wait until it answers
    eval [--check]                       rasa test nlu on the held-out split, print the figures
    validate                             rasa data validate on training and test data
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

import httpx

ROOT = Path(__file__).resolve().parent.parent
NLU_DIR = ROOT / "nlu"
VAR_DIR = ROOT / "var"
RESULTS_DIR = ROOT / "results"
RASA_VENV = ROOT / ".venv-rasa"
MODEL_PREFIX = "nlu-"
KEEP_MODELS = 3
MACRO_F1_TARGET = 0.90
EMERGENZA_RECALL_TARGET = 1.0
READY_TIMEOUT = 240.0


@dataclass(frozen=True, slots=True)
class Project:
    """Where the NLU inputs and outputs live; tuning runs point it at other files."""

    config: Path = NLU_DIR / "config.yml"
    domain: Path = NLU_DIR / "domain.yml"
    train_dir: Path = NLU_DIR / "data" / "train"
    test_dir: Path = NLU_DIR / "data" / "test"
    models_dir: Path = NLU_DIR / "models"
    pin: Path = NLU_DIR / "requirements-rasa.txt"
    components: Path = NLU_DIR / "rasa_components"  # our own Rasa components, named in the config
    rasa_venv: Path = RASA_VENV

    @property
    def rasa(self) -> Path:
        return self.rasa_venv / "bin" / "rasa"


DEFAULT = Project()


def rasa_available(project: Project = DEFAULT) -> bool:
    """True when the Rasa venv is installed (``make deps``)."""
    return os.access(project.rasa, os.X_OK)


def rasa_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for every rasa subprocess: no telemetry, quiet TensorFlow, reproducible runs."""
    env = dict(os.environ)
    env.update(
        {
            "RASA_TELEMETRY_ENABLED": "false",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "TF_DETERMINISTIC_OPS": "1",
            "PYTHONHASHSEED": "0",
            "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
            # nlu/config.yml names our own components (nlu.rasa_components) by module path.
            "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p),
            "PYTHONWARNINGS": "ignore",
            # Rasa's training cache would otherwise land in ./.rasa and grow without bound; we name
            # models by content hash instead, so the cache brings nothing.
            "RASA_CACHE_DIRECTORY": str(VAR_DIR / "rasa-cache"),
            "RASA_MAX_CACHE_SIZE": "0",
        }
    )
    if extra:
        env.update(extra)
    return env


# --------------------------------------------------------------------------------------------------
# Content hash and training


def _data_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(
        p
        for p in directory.rglob("*")
        if p.is_file() and not p.name.startswith(".") and not p.name.endswith("~")
    )


def content_hash(project: Project = DEFAULT) -> str:
    """A short hash of the pipeline config, our components, every training file and the Rasa pin."""
    h = hashlib.sha256()
    h.update(b"config\0" + project.config.read_bytes())
    for path in sorted(project.components.glob("*.py")):
        h.update(b"\0component\0" + path.name.encode() + b"\0" + path.read_bytes())
    for path in _data_files(project.train_dir):
        h.update(b"\0file\0" + path.relative_to(project.train_dir).as_posix().encode() + b"\0")
        h.update(path.read_bytes())
    h.update(b"\0pin\0" + (project.pin.read_bytes() if project.pin.exists() else b""))
    return h.hexdigest()[:16]


def model_path(project: Project = DEFAULT) -> Path:
    """Where the model for the current config and data is (or will be) stored."""
    return project.models_dir / f"{MODEL_PREFIX}{content_hash(project)}.tar.gz"


def _meta_path(model: Path) -> Path:
    return model.with_name(model.name.removesuffix(".tar.gz") + ".json")


def training_record(model: Path) -> dict[str, Any] | None:
    """What was recorded when ``model`` was trained (``seconds``, ``trained_at``), if known."""
    try:
        data = json.loads(_meta_path(model).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


@dataclass(frozen=True, slots=True)
class TrainOutcome:
    path: Path
    seconds: float
    trained: bool  # False when an up-to-date model was already there


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    """Serialise trainings (``make`` and a test fixture may both want the model at once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def train(
    project: Project = DEFAULT,
    *,
    force: bool = False,
    log: Callable[[str], None] | None = print,
) -> TrainOutcome:
    """Train the model for the current content hash unless it exists; atomic and serialised."""
    if not rasa_available(project):
        raise RuntimeError(f"Rasa is not installed in {project.rasa_venv}: run `make deps`")
    target = model_path(project)
    say = log or (lambda _msg: None)
    # One lock per model: a training of another config or data set never waits for this one.
    with _lock(project.models_dir / f".{target.name}.lock"):
        if target.exists() and not force:
            say(f"model up to date: {target}")
            return TrainOutcome(target, 0.0, trained=False)
        say(f"training {target.name} (config {project.config.name}, data {project.train_dir}) ...")
        with tempfile.TemporaryDirectory(prefix="nlu-train-", dir=project.models_dir) as tmp:
            cmd = [
                str(project.rasa),
                "train",
                "nlu",
                "--config",
                str(project.config),
                "--nlu",
                str(project.train_dir),
                "--out",
                tmp,
                "--fixed-model-name",
                "model",
                "--quiet",
            ]
            started = time.perf_counter()
            proc = subprocess.run(  # noqa: S603 - fixed executable, no shell
                cmd, cwd=tmp, env=rasa_env(), capture_output=True, text=True, check=False
            )
            seconds = time.perf_counter() - started
            produced = Path(tmp) / "model.tar.gz"
            if proc.returncode != 0 or not produced.exists():
                tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
                raise RuntimeError(f"rasa train nlu failed (exit {proc.returncode}):\n{tail}")
            os.replace(produced, target)
        record = {
            "seconds": round(seconds, 1),
            "trained_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "config": project.config.name,
        }
        _meta_path(target).write_text(json.dumps(record) + "\n", encoding="utf-8")
        _prune(project.models_dir, keep=target)
    say(f"trained in {seconds:.1f} s: {target}")
    return TrainOutcome(target, seconds, trained=True)


def _prune(models_dir: Path, keep: Path) -> None:
    """Keep the newest few models: old hashes are dead weight (each is ~30 MB).

    Also removes work directories left by trainings that were killed (older than two hours).
    """
    for stale in models_dir.glob("nlu-train-*"):
        with contextlib.suppress(OSError):
            if stale.is_dir() and time.time() - stale.stat().st_mtime > 7200:
                shutil.rmtree(stale, ignore_errors=True)
    models = sorted(models_dir.glob(f"{MODEL_PREFIX}*.tar.gz"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in models[KEEP_MODELS:]:
        if old != keep:
            old.unlink(missing_ok=True)
            _meta_path(old).unlink(missing_ok=True)
            (models_dir / f".{old.name}.lock").unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------------
# Running the server


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def serve_command(
    model: Path, port: int, *, token: str = "", host: str = "127.0.0.1", project: Project = DEFAULT
) -> list[str]:
    cmd = [str(project.rasa), "run", "--enable-api", "-m", str(model), "-p", str(port), "-i", host]
    if token:
        cmd += ["--auth-token", token]
    return cmd


def server_status(url: str, token: str = "", timeout: float = 2.0) -> dict[str, Any] | None:
    """Rasa's ``/status`` answer, or None when nothing (or nothing authorised) answers."""
    try:
        resp = httpx.get(
            f"{url.rstrip('/')}/status", params={"token": token} if token else None, timeout=timeout
        )
        data = resp.json() if resp.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def wait_ready(
    url: str,
    *,
    token: str = "",
    model: Path | None = None,
    proc: subprocess.Popen[Any] | None = None,
    timeout: float = READY_TIMEOUT,
    progress: Callable[[str], None] | None = None,
    log_path: Path | None = None,
) -> dict[str, Any]:
    """Poll ``/status`` until the (expected) model is loaded; fail fast if the process died."""
    started = time.monotonic()
    last_note = started
    while True:
        status = server_status(url, token, timeout=1.0)
        if status and status.get("model_file") and (model is None or status["model_file"] == model.name):
            return status
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(
                f"rasa exited with code {proc.returncode} before answering{_log_tail(log_path)}"
            )
        now = time.monotonic()
        if now - started > timeout:
            raise RuntimeError(
                f"rasa did not answer {url}/status within {timeout:.0f} s{_log_tail(log_path)}"
            )
        if progress and now - last_note >= 5:
            progress(f"waiting for Rasa at {url} ... {now - started:.0f} s")
            last_note = now
        time.sleep(0.5)


def _log_tail(log_path: Path | None, lines: int = 20) -> str:
    if log_path is None or not log_path.exists():
        return ""
    tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    return f"; last lines of {log_path}:\n" + "\n".join(tail)


@dataclass
class RasaServer:
    """A Rasa server we started as a subprocess; stop it with :meth:`stop` (or ``with``)."""

    proc: subprocess.Popen[Any]
    port: int
    model: Path
    token: str = ""
    host: str = "127.0.0.1"
    log_path: Path | None = None
    status: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self, timeout: float = 15.0) -> None:
        stop_pid(self.proc.pid, timeout=timeout, proc=self.proc)

    def __enter__(self) -> RasaServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_server(
    model: Path,
    port: int,
    *,
    token: str = "",
    host: str = "127.0.0.1",
    log_path: Path | None = None,
    project: Project = DEFAULT,
) -> subprocess.Popen[Any]:
    """Start ``rasa run --enable-api`` without waiting; output goes to ``log_path`` (or is dropped)."""
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        out: Any = log_path.open("ab")
    else:
        out = subprocess.DEVNULL
    try:
        return subprocess.Popen(  # noqa: S603 - fixed executable, no shell
            serve_command(model, port, token=token, host=host, project=project),
            cwd=ROOT,
            env=rasa_env(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() ends Rasa and its children
            close_fds=True,
        )
    finally:
        if log_path is not None:
            out.close()


def launch(
    model: Path | None = None,
    *,
    port: int | None = None,
    token: str = "",
    host: str = "127.0.0.1",
    log_path: Path | None = None,
    timeout: float = READY_TIMEOUT,
    progress: Callable[[str], None] | None = None,
    project: Project = DEFAULT,
) -> RasaServer:
    """Train if needed, start Rasa on a free port and return once it answers with the model loaded."""
    model = model or train(project, log=progress).path
    port = port or free_port(host)
    proc = start_server(model, port, token=token, host=host, log_path=log_path, project=project)
    server = RasaServer(proc, port, model, token=token, host=host, log_path=log_path)
    try:
        server.status = wait_ready(
            server.url,
            token=token,
            model=model,
            proc=proc,
            timeout=timeout,
            progress=progress,
            log_path=log_path,
        )
    except BaseException:
        server.stop()
        raise
    return server


def stop_pid(pid: int, *, timeout: float = 15.0, proc: subprocess.Popen[Any] | None = None) -> None:
    """SIGTERM the process group led by ``pid`` (Rasa's own session), SIGKILL if it lingers."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        except PermissionError:
            os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc is not None:
                if proc.poll() is not None:
                    return
            elif not _alive(pid):
                return
            time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours counts as gone.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[-1].split()[0] == "Z":
            return False
    return True


def _is_our_rasa(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return any(part.endswith(b"/rasa") for part in cmdline) and b"run" in cmdline


def _pid_file(port: int) -> Path:
    return VAR_DIR / f"rasa-{port}.pid"


def ensure(port: int, *, background: bool, token: str = "", project: Project = DEFAULT) -> int:
    """Make sure a Rasa server with the current model answers on ``port``; used by ``make run``."""
    model = train(project).path
    url = f"http://127.0.0.1:{port}"
    status = server_status(url, token)
    if status and status.get("model_file") == model.name:
        print(f"Rasa already serving {model.name} at {url}")
        return 0
    pid_file = _pid_file(port)
    if port_in_use(port):
        pid = _read_pid(pid_file)
        if pid is None or not _alive(pid) or not _is_our_rasa(pid):
            print(f"port {port} is taken by another program: stop it or use RASA_PORT=...", file=sys.stderr)
            return 1
        print(f"restarting Rasa (pid {pid}) on the new model {model.name}")
        stop_pid(pid)
    if not background:
        return _exec_serve(model, port, token, project)
    log_path = VAR_DIR / f"rasa-{port}.log"
    proc = start_server(model, port, token=token, log_path=log_path, project=project)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.write_text(f"{proc.pid}\n")
    print(f"Rasa starting (pid {proc.pid}, log {log_path}) ...")
    started = time.monotonic()
    try:
        wait_ready(url, token=token, model=model, proc=proc, progress=print, log_path=log_path)
    except RuntimeError as exc:
        stop_pid(proc.pid, proc=proc)
        pid_file.unlink(missing_ok=True)
        print(str(exc), file=sys.stderr)
        return 1
    print(f"Rasa ready at {url} with {model.name} after {time.monotonic() - started:.0f} s")
    return 0


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _exec_serve(model: Path, port: int, token: str, project: Project) -> int:
    cmd = serve_command(
        model, port, token=token, host=os.environ.get("RASA_HOST", "127.0.0.1"), project=project
    )
    sys.stdout.flush()
    os.chdir(ROOT)
    os.execve(cmd[0], cmd, rasa_env())  # noqa: S606 - replaces this process: Ctrl-C reaches Rasa
    return 0  # pragma: no cover


# --------------------------------------------------------------------------------------------------
# Evaluation


@dataclass(frozen=True, slots=True)
class Prediction:
    text: str
    expected: str
    predicted: str
    confidence: float


@dataclass(frozen=True, slots=True)
class EntityScore:
    precision: float
    recall: float
    f1: float
    support: int


class FileScore(NamedTuple):
    """One held-out file's figures."""

    examples: int
    macro_f1: float
    accuracy: float
    emergenza_found: int
    emergenza_support: int


@dataclass(frozen=True, slots=True)
class EvalSummary:
    examples: int
    accuracy: float
    macro_f1: float  # over the intents of the taxonomy, a multi-intent counting for each of its parts
    per_intent_f1: dict[str, EntityScore]
    label_macro_f1: float  # over exact labels, every combination ("casa+lavoro") a class of its own
    per_label_f1: dict[str, EntityScore]
    emergenza_recall: float
    emergenza_support: int
    confused: list[tuple[str, str, int]]
    entity_overall: EntityScore
    entity_per_type: dict[str, EntityScore]
    extractor_f1: dict[str, dict[str, float]]
    # held-out file -> its figures: files written at different times (e.g. an extension written blind
    # to the model's errors) are read separately.
    by_file: dict[str, FileScore] = field(default_factory=dict)

    def passes(self) -> bool:
        return self.macro_f1 >= MACRO_F1_TARGET and self.emergenza_recall >= EMERGENZA_RECALL_TARGET


def _prf(tp: int, fp: int, fn: int) -> EntityScore:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return EntityScore(p, r, f, tp + fn)


def intent_scores(preds: Sequence[Prediction]) -> dict[str, EntityScore]:
    """Precision/recall/F1 per expected label (exact label: ``casa+lavoro`` is its own class)."""
    labels = sorted({p.expected for p in preds})
    out: dict[str, EntityScore] = {}
    for label in labels:
        tp = sum(1 for p in preds if p.expected == label and p.predicted == label)
        fp = sum(1 for p in preds if p.expected != label and p.predicted == label)
        fn = sum(1 for p in preds if p.expected == label and p.predicted != label)
        out[label] = _prf(tp, fp, fn)
    return out


def part_scores(preds: Sequence[Prediction]) -> dict[str, EntityScore]:
    """Precision/recall/F1 per intent of the taxonomy, multi-label style.

    ``casa+lavoro`` predicted as ``casa`` is a hit for casa and a miss for lavoro: this is what the
    app sees (``ParseResult.needs``) and how multi-label classifiers are scored.
    """
    expected = [set(p.expected.split("+")) for p in preds]
    predicted = [set(p.predicted.split("+")) for p in preds]
    out: dict[str, EntityScore] = {}
    for label in sorted(set().union(*expected)) if expected else ():
        tp = sum(1 for e, g in zip(expected, predicted, strict=True) if label in e and label in g)
        fp = sum(1 for e, g in zip(expected, predicted, strict=True) if label not in e and label in g)
        fn = sum(1 for e, g in zip(expected, predicted, strict=True) if label in e and label not in g)
        out[label] = _prf(tp, fp, fn)
    return out


def part_found(preds: Sequence[Prediction], part: str) -> tuple[int, int]:
    """(found, total) of one need over every example that contains it, alone or in a multi-intent."""
    relevant = [p for p in preds if part in p.expected.split("+")]
    return sum(1 for p in relevant if part in p.predicted.split("+")), len(relevant)


def part_recall(preds: Sequence[Prediction], part: str) -> tuple[float, int]:
    """Recall of one need over every example that contains it, alone or in a multi-intent."""
    found, total = part_found(preds, part)
    return (found / total if total else 0.0), total


def entity_scores(
    examples: Iterable[Mapping[str, Any]],
    intents: Mapping[str, str] | None = None,
) -> tuple[EntityScore, dict[str, EntityScore]]:
    """Exact-span entity P/R/F1 of what the app sees: every extractor merged by the client's logic.

    ``intents`` maps a text to its predicted intent (the client uses it to judge place words).
    """
    from nlu.client import normalise_entities

    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for ex in examples:
        text = str(ex.get("text", ""))
        gold = {(e["entity"], e["start"], e["end"]) for e in ex.get("entities") or ()}
        predicted = ex.get("predicted_entities") or ()
        got = {
            (e.type, e.start, e.end) for e in normalise_entities(text, predicted, (intents or {}).get(text))
        }
        for kind, *_ in gold & got:
            tp[kind] += 1
        for kind, *_ in got - gold:
            fp[kind] += 1
        for kind, *_ in gold - got:
            fn[kind] += 1
    kinds = sorted(set(tp) | set(fp) | set(fn))
    per = {k: _prf(tp[k], fp[k], fn[k]) for k in kinds}
    overall = _prf(sum(tp.values()), sum(fp.values()), sum(fn.values()))
    return overall, per


def _macro(scores: Mapping[str, EntityScore]) -> float:
    return sum(sc.f1 for sc in scores.values()) / len(scores) if scores else 0.0


def summarise(
    preds: Sequence[Prediction],
    entity_examples: Iterable[Mapping[str, Any]] = (),
    extractor_reports: Mapping[str, Mapping[str, Any]] | None = None,
    files: Mapping[str, str] | None = None,
) -> EvalSummary:
    """``files`` maps a held-out text to its file name (see :func:`held_out_files`)."""
    per_intent = part_scores(preds)
    macro = _macro(per_intent)
    per_label = intent_scores(preds)
    label_macro = _macro(per_label)
    accuracy = sum(1 for p in preds if p.expected == p.predicted) / len(preds) if preds else 0.0
    recall, support = part_recall(preds, "emergenza")
    confused = Counter((p.expected, p.predicted) for p in preds if p.expected != p.predicted)
    overall, per_type = entity_scores(entity_examples, {p.text: p.predicted for p in preds})
    extractor_f1 = {
        name: {k: float(v.get("f1-score", 0.0)) for k, v in report.items() if isinstance(v, dict)}
        for name, report in (extractor_reports or {}).items()
    }
    return EvalSummary(
        examples=len(preds),
        accuracy=accuracy,
        macro_f1=macro,
        per_intent_f1=per_intent,
        label_macro_f1=label_macro,
        per_label_f1=per_label,
        emergenza_recall=recall,
        emergenza_support=support,
        confused=[(a, b, n) for (a, b), n in confused.most_common(12)],
        entity_overall=overall,
        entity_per_type=per_type,
        extractor_f1=extractor_f1,
        by_file=_by_file(preds, files or {}),
    )


def _by_file(preds: Sequence[Prediction], files: Mapping[str, str]) -> dict[str, FileScore]:
    groups: dict[str, list[Prediction]] = {}
    for p in preds:
        if p.text in files:
            groups.setdefault(files[p.text], []).append(p)
    out = {}
    for name, group in sorted(groups.items()):
        macro = _macro(part_scores(group))
        accuracy = sum(1 for p in group if p.expected == p.predicted) / len(group)
        out[name] = FileScore(len(group), macro, accuracy, *part_found(group, "emergenza"))
    return out


_ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


def held_out_files(test_dir: Path) -> dict[str, str]:
    """Each held-out message as Rasa reports it (annotations removed) -> the file it comes from."""
    import yaml  # the app's dependency; only evaluation needs it here

    out: dict[str, str] = {}
    for path in sorted(test_dir.glob("*.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for item in doc.get("nlu") or []:
            if "intent" not in item:
                continue
            for line in str(item.get("examples") or "").splitlines():
                line = line.strip()
                if line.startswith("- "):
                    out[_ANNOTATION.sub(r"\1", line[2:].strip())] = path.name
    return out


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def read_results(out_dir: Path, files: Mapping[str, str] | None = None) -> EvalSummary:
    """Summarise the files ``rasa test nlu --successes`` wrote into ``out_dir``."""
    preds: list[Prediction] = []
    for name in ("intent_successes.json", "intent_errors.json"):
        for row in _load_json(out_dir / name) or ():
            pred = row.get("intent_prediction") or {}
            preds.append(
                Prediction(
                    row.get("text", ""),
                    row.get("intent", ""),
                    pred.get("name") or "",
                    float(pred.get("confidence") or 0.0),
                )
            )
    by_text: dict[str, Mapping[str, Any]] = {}
    reports: dict[str, Mapping[str, Any]] = {}
    for path in sorted(out_dir.glob("*_successes.json")) + sorted(out_dir.glob("*_errors.json")):
        if path.name.startswith("intent_"):
            continue
        for row in _load_json(path) or ():
            by_text.setdefault(row.get("text", ""), row)
    for path in sorted(out_dir.glob("*_report.json")):
        if path.name != "intent_report.json":
            data = _load_json(path)
            if isinstance(data, dict):
                reports[path.name.removesuffix("_report.json")] = data
    return summarise(preds, by_text.values(), reports, files)


def format_summary(s: EvalSummary) -> str:
    lines = [
        f"held-out examples: {s.examples}   exact-label accuracy: {s.accuracy:.3f}",
        f"intent macro-F1: {s.macro_f1:.3f} over {len(s.per_intent_f1)} intents, multi-intents scored by part"
        f"  (target >= {MACRO_F1_TARGET:.2f})",
        f"exact-label macro-F1: {s.label_macro_f1:.3f} over {len(s.per_label_f1)} labels"
        " (each combination a class of its own)",
        f"emergenza recall: {s.emergenza_recall:.3f} over {s.emergenza_support} examples"
        f"  (target {EMERGENZA_RECALL_TARGET:.1f})",
        "",
        "per-intent F1 (worst first):",
    ]
    for name, sc in sorted(s.per_intent_f1.items(), key=lambda kv: (kv[1].f1, kv[0])):
        lines.append(f"  {name:<22} F1 {sc.f1:.3f}  P {sc.precision:.3f}  R {sc.recall:.3f}  n={sc.support}")
    lines += ["", "multi-intent labels, exact match (worst first):"]
    multi = [(k, v) for k, v in s.per_label_f1.items() if "+" in k]
    for name, sc in sorted(multi, key=lambda kv: (kv[1].f1, kv[0])):
        lines.append(f"  {name:<22} F1 {sc.f1:.3f}  P {sc.precision:.3f}  R {sc.recall:.3f}  n={sc.support}")
    e = s.entity_overall
    lines += [
        "",
        f"entity F1 (exact span, as the client sees them): {e.f1:.3f}  P {e.precision:.3f}  R {e.recall:.3f}",
    ]
    for name, sc in s.entity_per_type.items():
        lines.append(f"  {name:<14} F1 {sc.f1:.3f}  P {sc.precision:.3f}  R {sc.recall:.3f}  n={sc.support}")
    for extractor, scores in s.extractor_f1.items():
        shown = ", ".join(f"{k} {v:.3f}" for k, v in scores.items() if k not in ("macro avg", "weighted avg"))
        lines.append(f"  rasa's token-level report, {extractor}: {shown}")
    if len(s.by_file) > 1:
        lines += ["", "by held-out file:"]
        lines += [
            f"  {name:<24} n={f.examples:<4} intent macro-F1 {f.macro_f1:.3f}  exact-label accuracy"
            f" {f.accuracy:.3f}  emergenza {f.emergenza_found}/{f.emergenza_support}"
            for name, f in s.by_file.items()
        ]
    lines += ["", "most confused (expected -> predicted):"]
    lines += [f"  {a} -> {b}: {n}" for a, b, n in s.confused] or ["  none"]
    return "\n".join(lines)


def evaluate(
    project: Project = DEFAULT, *, out_dir: Path = RESULTS_DIR, model: Path | None = None
) -> EvalSummary:
    """Run ``rasa test nlu`` on the held-out split with the current model and summarise it."""
    model = model or train(project).path
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    cmd = [
        str(project.rasa),
        "test",
        "nlu",
        "--nlu",
        str(project.test_dir),
        "--model",
        str(model),
        "--out",
        str(out_dir),
        "--successes",
        "--no-plot",
        "--quiet",
    ]
    proc = subprocess.run(  # noqa: S603 - fixed executable, no shell
        cmd, cwd=ROOT, env=rasa_env(), capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
        raise RuntimeError(f"rasa test nlu failed (exit {proc.returncode}):\n{tail}")
    return read_results(out_dir, held_out_files(project.test_dir))


# --------------------------------------------------------------------------------------------------
# Validation


def validate(project: Project = DEFAULT) -> subprocess.CompletedProcess[str]:
    """``rasa data validate`` on training and test data against the NLU-only domain."""
    cmd = [
        str(project.rasa),
        "data",
        "validate",
        "--domain",
        str(project.domain),
        "--config",
        str(project.config),
        "--data",
        str(project.train_dir),
        str(project.test_dir),
    ]
    return subprocess.run(  # noqa: S603 - fixed executable, no shell
        cmd, cwd=ROOT, env=rasa_env(), capture_output=True, text=True, check=False
    )


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Irrelevant for an NLU-only project (no stories, no rules) or about our own environment choices.
_IGNORED_WARNINGS = ("is not used in any story or rule", "TF_DETERMINISTIC_OPS", "DeprecationWarning")


def relevant_warnings(output: str) -> list[str]:
    """Rasa's warnings worth acting on (intent/domain mismatches, conflicting examples, ...)."""
    out = []
    for line in _ANSI.sub("", output).splitlines():
        if "Warning:" in line and not any(s in line for s in _IGNORED_WARNINGS):
            out.append(line.split("Warning:", 1)[1].strip())
    return out


# --------------------------------------------------------------------------------------------------
# Command line


def _project_from(args: argparse.Namespace) -> Project:
    p = DEFAULT
    if args.config:
        p = replace(p, config=Path(args.config).resolve())
    if args.train_dir:
        p = replace(p, train_dir=Path(args.train_dir).resolve())
    if args.test_dir:
        p = replace(p, test_dir=Path(args.test_dir).resolve())
    if args.models_dir:
        p = replace(p, models_dir=Path(args.models_dir).resolve())
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nlu.manage", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", help="pipeline config (default nlu/config.yml)")
    parser.add_argument("--train-dir", help="training data (default nlu/data/train)")
    parser.add_argument("--test-dir", help="held-out data (default nlu/data/test)")
    parser.add_argument("--models-dir", help="where models go (default nlu/models)")
    sub = parser.add_subparsers(dest="command", required=True)
    p_train = sub.add_parser("train", help="train when no model matches the current config and data")
    p_train.add_argument("--force", action="store_true", help="train even if the model exists")
    p_serve = sub.add_parser("serve", help="serve the current model in the foreground")
    p_serve.add_argument("--port", type=int, default=int(os.environ.get("RASA_PORT", "5005")))
    p_ensure = sub.add_parser("ensure", help="train if needed, start Rasa, wait until it answers")
    p_ensure.add_argument("--port", type=int, default=int(os.environ.get("RASA_PORT", "5005")))
    p_ensure.add_argument("--background", action="store_true", help="detach (pid and log in var/)")
    p_eval = sub.add_parser("eval", help="evaluate on the held-out split")
    p_eval.add_argument("--check", action="store_true", help="exit 1 below the macro-F1/recall targets")
    p_eval.add_argument("--out", default=str(RESULTS_DIR), help="where rasa writes its reports")
    p_eval.add_argument("--model", help="evaluate this model file instead of the current one")
    sub.add_parser("validate", help="rasa data validate")
    sub.add_parser("path", help="print the model path for the current content hash")
    args = parser.parse_args(argv)
    project = _project_from(args)
    token = os.environ.get("RASA_TOKEN", "")

    if args.command == "path":
        print(model_path(project))
        return 0
    if not rasa_available(project):
        print(f"Rasa is not installed in {project.rasa_venv}: run `make deps`", file=sys.stderr)
        return 2
    try:
        if args.command == "train":
            outcome = train(project, force=args.force)
            if not outcome.trained:
                record = training_record(outcome.path) or {}
                if "seconds" in record:
                    print(f"(last training took {record['seconds']} s)")
            return 0
        if args.command == "serve":
            model = train(project).path
            return _exec_serve(model, args.port, token, project)
        if args.command == "ensure":
            return ensure(args.port, background=args.background, token=token, project=project)
        if args.command == "eval":
            chosen = Path(args.model).resolve() if args.model else None
            summary = evaluate(project, out_dir=Path(args.out).resolve(), model=chosen)
            print(format_summary(summary))
            print(f"\nreports in {args.out}")
            if args.check and not summary.passes():
                print("below target", file=sys.stderr)
                return 1
            return 0
        if args.command == "validate":
            proc = validate(project)
            out = (proc.stdout + proc.stderr).strip()
            if proc.returncode != 0:
                print(out, file=sys.stderr)
                print("rasa data validate: FAILED", file=sys.stderr)
                return 1
            warnings = relevant_warnings(out)
            for ln in warnings:
                print(f"warning: {ln}")
            print("rasa data validate: ok" + (f" with {len(warnings)} warnings" if warnings else ""))
            return 1 if warnings else 0
    except RuntimeError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
