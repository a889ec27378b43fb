"""Frontend settings (environment variables, see ``.env.example``)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from auction_common.settings import load_settings

#: The fixed value earlier versions fell back on: refused, like any other placeholder.
DEV_SECRET_KEY = "dev-only-frontend-secret-change-me"
_PLACEHOLDER_MARKS = ("change-me", "changeme", "change_me", "<", ">", "dev-only", "example")


class FrontendSettings(BaseSettings):
    """What the frontend reads from the environment. Secrets are hidden in ``repr``."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    #: Base URL where the ``/api/...`` routes answer, e.g. ``http://127.0.0.1:8080``.
    api_url: str
    #: Signs the session cookie (which carries the CSRF token and the user's name). Empty:
    #: ``SECRET_KEY_FILE`` is used. A placeholder (the example files' ``<...>``, "change-me")
    #: is refused at start-up.
    secret_key: SecretStr | None = None
    #: Where this installation's own random secret is kept when ``SECRET_KEY`` is not given
    #: (created on first start: ``var/`` in the local shapes, a volume in compose).
    secret_key_file: Path | None = None
    #: Send cookies only over HTTPS (set it behind TLS).
    cookie_secure: bool = False
    #: Seconds to wait for an API answer before showing "service unavailable".
    api_timeout_seconds: float = 10.0

    @field_validator("secret_key")
    @classmethod
    def _not_a_placeholder(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        secret = value.get_secret_value()
        if any(mark in secret.lower() for mark in _PLACEHOLDER_MARKS):
            raise ValueError("SECRET_KEY is a placeholder: set a long random value (or leave it "
                             "empty and set SECRET_KEY_FILE to keep a generated one)")
        return value

    def session_secret(self) -> str:
        """The key signing session cookies: ``SECRET_KEY``, else the one kept in
        ``SECRET_KEY_FILE`` (made at random, readable by this user only, on first use)."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        if self.secret_key_file is None:
            raise RuntimeError("set SECRET_KEY or SECRET_KEY_FILE for the frontend")
        return installation_secret(Path(self.secret_key_file))

    @field_validator("api_url")
    @classmethod
    def _http_base_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("API_URL must start with http:// or https://")
        return value.rstrip("/")


def load(**overrides) -> FrontendSettings:
    """Settings from the environment, failing clearly when one is missing."""
    return load_settings(FrontendSettings, **overrides)


def installation_secret(path: Path) -> str:
    """The random secret kept at ``path``, made there on first use (mode 0600)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it meanwhile: use theirs
            pass
        else:
            with os.fdopen(descriptor, "w") as out:
                out.write(secrets.token_urlsafe(48))
    secret = path.read_text().strip()
    if len(secret) < 32:
        raise RuntimeError(f"{path} holds no usable secret (at least 32 characters)")
    return secret
