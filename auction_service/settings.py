"""auction_service settings (environment variables, see ``.env.example``)."""

from auction_common.settings import CommonSettings, load_settings


class AuctionSettings(CommonSettings):
    """What auction_service reads from the environment."""

    auction_min_duration_seconds: int = 60
    auction_max_duration_seconds: int = 30 * 24 * 3600


def load() -> AuctionSettings:
    """Settings from the environment, failing clearly when one is missing."""
    return load_settings(AuctionSettings)
