"""Frontend settings (environment variables, see ``.env.example``)."""

from __future__ import annotations

from pydantic import SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from auction_common.settings import load_settings

DEV_SECRET_KEY = "dev-only-frontend-secret-change-me"


class FrontendSettings(BaseSettings):
    """What the frontend reads from the environment. Secrets are hidden in ``repr``."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    #: Base URL where the ``/api/...`` routes answer, e.g. ``http://127.0.0.1:8080``.
    api_url: str
    #: Signs the session cookie (which carries the CSRF token and the user's name).
    secret_key: SecretStr = SecretStr(DEV_SECRET_KEY)
    #: Send cookies only over HTTPS (set it behind TLS).
    cookie_secure: bool = False
    #: Seconds to wait for an API answer before showing "service unavailable".
    api_timeout_seconds: float = 10.0

    @field_validator("api_url")
    @classmethod
    def _http_base_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("API_URL must start with http:// or https://")
        return value.rstrip("/")


def load(**overrides) -> FrontendSettings:
    """Settings from the environment, failing clearly when one is missing."""
    return load_settings(FrontendSettings, **overrides)
