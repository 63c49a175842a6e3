"""A real Rasa server for the tests that need one (required in CI, skipped elsewhere without Rasa).

The server runs the model for the current config and data (trained first when missing), on a free
port, with an auth token so the token path is exercised too. One server per test session: it takes
~25 s to start.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from nlu import manage


@pytest.fixture(scope="session")
def rasa_token() -> str:
    """The auth token the session's Rasa server demands."""
    return f"test-{secrets.token_hex(8)}"


@pytest.fixture(scope="session")
def rasa_url(rasa_token: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a running Rasa server with the current model (needs ``rasa_token``)."""
    from tests.conftest import require

    require(manage.rasa_available(), f"Rasa is not installed in {manage.RASA_VENV} (make deps)")
    log_path = tmp_path_factory.mktemp("rasa") / "rasa.log"
    try:
        server = manage.launch(token=rasa_token, log_path=log_path)
    except RuntimeError as exc:
        pytest.fail(f"could not start Rasa: {exc}", pytrace=False)
    try:
        yield server.url
    finally:
        server.stop()
