"""notification_service settings (environment variables, see ``.env.example``)."""

from auction_common.settings import CommonSettings, load_settings


class NotificationSettings(CommonSettings):
    """What notification_service reads from the environment."""

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_timeout_seconds: float = 10.0
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


def load() -> NotificationSettings:
    """Settings from the environment, failing clearly when one is missing."""
    return load_settings(NotificationSettings)
