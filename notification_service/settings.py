"""notification_service settings (environment variables, see ``.env.example``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import SecretStr, model_validator

from auction_common.settings import CommonSettings, load_settings


class NotificationSettings(CommonSettings):
    """What notification_service reads from the environment."""

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_timeout_seconds: float = 10.0
    #: ``none`` (a local sink), ``starttls`` (upgrade on connect, usually port 587) or ``tls``
    #: (TLS from the first byte, usually port 465). The server's certificate is verified.
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    #: Log in with these (only over TLS: with ``none`` they are refused at start-up).
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    #: CA certificates (PEM) that sign the SMTP server's certificate, when it is not a public CA.
    smtp_ca_file: Path | None = None
    mail_from: str = "Auctions <auctions@example.test>"
    #: Where links in emails point (the public address of the site).
    public_url: str = "http://localhost:8000"
    delivery_interval_seconds: float = 0.5
    delivery_max_attempts: int = 8
    #: A bidder outbid again within this long, before reading the last notice, gets that notice
    #: updated rather than another email (0: one email per outbid).
    outbid_quiet_seconds: int = 600
    #: Watchers are reminded once, this long before the end.
    watch_reminder_seconds: int = 3600
    watch_reminder_interval_seconds: float = 5.0

    @model_validator(mode="after")
    def _credentials_only_over_tls(self) -> NotificationSettings:
        if (self.smtp_username is None) != (self.smtp_password is None):
            raise ValueError("set SMTP_USERNAME and SMTP_PASSWORD together")
        if self.smtp_username is not None and self.smtp_security == "none":
            raise ValueError("SMTP credentials need SMTP_SECURITY=starttls or tls")
        return self


def load() -> NotificationSettings:
    """Settings from the environment, failing clearly when one is missing."""
    return load_settings(NotificationSettings)
