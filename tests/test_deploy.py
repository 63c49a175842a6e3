"""docker-compose.yml is valid (checked by docker-compose itself, no engine needed) and complete."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import require

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / ".venv-compose" / "bin" / "docker-compose"


def _config(env_file: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTGRES", "RASA_TOKEN", "SECRET_KEY"))}
    return subprocess.run(
        [str(COMPOSE), "-f", str(ROOT / "docker-compose.yml"), "--env-file", str(env_file), "config"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )


@pytest.fixture(scope="module")
def compose_config() -> dict:  # type: ignore[type-arg]
    require(COMPOSE.exists(), "docker-compose not installed in .venv-compose (make compose-check)")
    out = _config(ROOT / ".env.example")
    assert out.returncode == 0, out.stderr
    return yaml.safe_load(out.stdout)


def test_compose_has_the_production_topology(compose_config: dict) -> None:  # type: ignore[type-arg]
    services = compose_config["services"]
    assert {"postgres", "rasa", "rasa-train", "app", "proxy"} <= set(services)
    assert services["rasa"]["image"] == "rasa/rasa:3.6.21-full"
    assert services["rasa-train"]["image"] == "rasa/rasa:3.6.21-full"
    assert services["rasa"]["depends_on"]["rasa-train"]["condition"] == "service_completed_successfully"
    assert services["app"]["deploy"]["replicas"] == 2
    assert services["app"]["environment"]["DATABASE_URL"].startswith("postgresql+asyncpg://")
    for name in ("postgres", "rasa", "app", "proxy"):
        assert "healthcheck" in services[name], name
    assert {"pgdata", "rasa-models"} <= set(compose_config["volumes"])
    assert (ROOT / "Dockerfile").exists() and (ROOT / "deploy" / "nginx.conf").exists()


def test_both_rasa_services_can_import_our_component(compose_config: dict) -> None:  # type: ignore[type-arg]
    """nlu/config.yml names nlu.rasa_components: training and serving must both find it under /app."""
    assert "nlu.rasa_components." in (ROOT / "nlu" / "config.yml").read_text(encoding="utf-8")
    for name in ("rasa", "rasa-train"):
        service = compose_config["services"][name]
        volumes = service["volumes"]
        mounts = {str(v["target"]) if isinstance(v, dict) else str(v).split(":")[1] for v in volumes}
        assert "/app/nlu" in mounts, name
        assert service["environment"]["PYTHONPATH"] == "/app", name


def test_compose_refuses_to_start_without_secrets(tmp_path: Path) -> None:
    require(COMPOSE.exists(), "docker-compose not installed in .venv-compose (make compose-check)")
    env_file = tmp_path / "empty.env"
    env_file.write_text("HTTP_PORT=8080\n")
    out = _config(env_file)
    assert out.returncode != 0
    assert "POSTGRES_PASSWORD" in out.stderr


def test_env_example_documents_every_secret_the_compose_file_needs() -> None:
    example = (ROOT / ".env.example").read_text()
    compose = (ROOT / "docker-compose.yml").read_text()
    for var in (
        "POSTGRES_PASSWORD",
        "RASA_TOKEN",
        "SECRET_KEY",
        "TELEGRAM_TOKEN",
        "PUBLIC_URL",
        "ALLOWED_ORIGINS",
    ):
        assert f"${{{var}" in compose, var
        assert f"{var}=" in example, var
