"""auction_service settings (environment variables, see ``.env.example``)."""

from pathlib import Path

from pydantic import field_validator

from auction_common.settings import CommonSettings, load_settings

from .domain import ScheduleLimits


class AuctionSettings(CommonSettings):
    """What auction_service reads from the environment."""

    auction_min_duration_seconds: int = 60
    auction_max_duration_seconds: int = 30 * 24 * 3600
    #: How far ahead a listing's start may be scheduled.
    auction_max_start_delay_seconds: int = 90 * 24 * 3600
    #: Where photos are written (``<MEDIA_ROOT>/auctions/<auction_id>/...``); the gateway serves
    #: this directory at ``/media/`` (and so does the app itself, for the embedded mode).
    media_root: Path = Path("var/media")
    #: The public prefix of photo URLs (a CDN's address, say); ``/media`` by default.
    media_url: str = "/media"
    #: bidding_service's web processes, which decide whether a seller may still withdraw a
    #: listing or change its terms (``http://bidding-service-web:8000``); the embedded mode
    #: calls bidding in-process instead. Unset elsewhere, such changes answer 503.
    bidding_url: str | None = None

    @field_validator("media_root")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator("media_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def schedule_limits(self) -> ScheduleLimits:
        """The schedule bounds a listing must keep."""
        return ScheduleLimits(self.auction_min_duration_seconds,
                              self.auction_max_duration_seconds,
                              self.auction_max_start_delay_seconds)


def load() -> AuctionSettings:
    """Settings from the environment, failing clearly when one is missing."""
    return load_settings(AuctionSettings)
