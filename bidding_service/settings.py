"""bidding_service settings (environment variables, see ``.env.example``)."""

from auction_common.settings import CommonSettings, load_settings


class BiddingSettings(CommonSettings):
    """What bidding_service reads from the environment."""

    #: How often the closing worker looks for auctions past their end.
    closer_interval_seconds: float = 0.5
    #: Where the real-time (Socket.IO) process listens.
    host: str = "127.0.0.1"
    port: int = 8000


def load() -> BiddingSettings:
    """Settings from the environment, failing clearly when one is missing."""
    return load_settings(BiddingSettings)
