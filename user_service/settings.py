"""user_service settings (environment variables, see ``.env.example``)."""

from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path

from limits import parse_many
from pydantic import Field, SecretStr, field_validator, model_validator

from auction_common.keys import public_key_pem
from auction_common.settings import CommonSettings, load_settings


class UserSettings(CommonSettings):
    """What user_service reads from the environment."""

    jwt_private_key: SecretStr | None = None
    jwt_private_key_file: Path | None = None
    access_token_ttl_seconds: int = Field(900, ge=10)
    refresh_token_ttl_seconds: int = Field(30 * 24 * 3600, ge=60)
    password_min_length: int = Field(8, ge=1, le=256)
    #: argon2id cost: passes, memory in KiB, lanes. Raising them rehashes at the next login.
    argon2_time_cost: int = Field(3, ge=1)
    argon2_memory_cost: int = Field(65536, ge=8)
    argon2_parallelism: int = Field(4, ge=1)
    #: Off only for load tests; the limits below then never answer 429.
    rate_limit_enabled: bool = True
    #: Where counters live: ``memory://`` (one process), ``redis://host:6379`` (several).
    rate_limit_storage_url: str = "memory://"
    #: Requests to register and to log in, each, from one client address.
    rate_limit_per_ip: str = "60/minute"
    #: Failed logins to one account from one client address (successes do not count); the
    #: window slides, so the address gets its turn back by itself. Others' failures never
    #: lock the owner out of their account.
    rate_limit_failed_logins: str = "10 per 15 minutes"
    #: Failed logins from one client address, whatever the account (one address trying many
    #: accounts).
    rate_limit_failed_logins_per_ip: str = "50 per 15 minutes"
    #: Password reset links asked for one account (whoever asks); each answer is the same.
    rate_limit_password_resets: str = "5 per hour"
    #: How long a password reset link works (it also stops once used).
    password_reset_ttl_seconds: int = Field(1800, ge=60, le=24 * 3600)
    #: Comma-separated addresses/networks of our own proxies (gateway, frontend), whose
    #: ``X-Forwarded-For`` is believed when finding the client's address.
    trusted_proxies: str = ""

    @field_validator("rate_limit_per_ip", "rate_limit_failed_logins",
                     "rate_limit_failed_logins_per_ip", "rate_limit_password_resets")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        try:
            parse_many(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a rate limit such as '60/minute'") from None
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        for item in filter(None, (part.strip() for part in value.split(","))):
            ip_network(item, strict=False)
        return value

    @model_validator(mode="after")
    def _argon2_memory_covers_lanes(self):
        if self.argon2_memory_cost < 8 * self.argon2_parallelism:
            raise ValueError("ARGON2_MEMORY_COST must be at least 8 KiB per lane "
                             "(8 × ARGON2_PARALLELISM)")
        return self

    def trusted_proxy_networks(self) -> list[IPv4Network | IPv6Network]:
        """``TRUSTED_PROXIES`` as networks."""
        return [ip_network(part.strip(), strict=False)
                for part in self.trusted_proxies.split(",") if part.strip()]

    def private_key_pem(self) -> str:
        """The PEM private key that signs access tokens."""
        if self.jwt_private_key is not None:
            return self.jwt_private_key.get_secret_value()
        if self.jwt_private_key_file is not None:
            return Path(self.jwt_private_key_file).read_text()
        raise RuntimeError("set JWT_PRIVATE_KEY or JWT_PRIVATE_KEY_FILE")

    def public_key_pem(self) -> str:
        """The public key of the signing key (the one new tokens name in their ``kid``)."""
        return public_key_pem(self.private_key_pem())


def load() -> UserSettings:
    """Settings from the environment, failing clearly when one is missing."""
    return load_settings(UserSettings)
