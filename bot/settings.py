"""Configuration from the environment (12-factor): every knob is an env var, documented in README."""

from __future__ import annotations

from functools import cached_property

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """All of Bussola's configuration. Field names map to upper-case environment variables."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    database_url: str = "sqlite+aiosqlite:///./var/bussola.db"
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_token: str = ""
    rasa_timeout: float = Field(2.0, description="seconds before a parse is given up (degraded mode)")
    catalog_url: str = Field("", description="HSDS 3.0 API base URL; empty = the embedded catalogue")
    catalog_cache_ttl: float = 300.0
    catalog_snapshot_path: str = "var/catalog-snapshot.json"
    telegram_token: str = ""
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    telegram_webhook_secret: str = ""
    public_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    secret_key: str = Field("", description="signs console sessions and CSRF tokens; random if empty")
    allowed_origins: str = Field("", description="comma-separated origins allowed to embed the widget")
    privacy_url: str = "/privacy"
    claim_timeout_minutes: int = 30
    retention_closed_days: int = 365
    retention_unhandled_days: int = 30
    log_level: str = "INFO"
    max_body_bytes: int = 64 * 1024
    rate_limit_ip_per_minute: float = 240.0
    rate_limit_session_per_minute: float = 40.0

    @cached_property
    def rasa_urls(self) -> list[str]:
        """RASA_URL may list several replicas separated by commas."""
        return [u.strip().rstrip("/") for u in self.rasa_url.split(",") if u.strip()]

    @cached_property
    def allowed_origin_list(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.allowed_origins.split(",") if o.strip()]
