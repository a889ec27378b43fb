"""user_service settings (environment variables, see ``.env.example``)."""

from pathlib import Path

from pydantic import SecretStr

from auction_common.keys import public_key_pem
from auction_common.settings import CommonSettings, load_settings


class UserSettings(CommonSettings):
    """What user_service reads from the environment."""

    jwt_private_key: SecretStr | None = None
    jwt_private_key_file: Path | None = None
    access_token_ttl_seconds: int = 900
    refresh_token_ttl_seconds: int = 30 * 24 * 3600
    password_min_length: int = 8

    def private_key_pem(self) -> str:
        """The PEM private key that signs access tokens."""
        if self.jwt_private_key is not None:
            return self.jwt_private_key.get_secret_value()
        if self.jwt_private_key_file is not None:
            return Path(self.jwt_private_key_file).read_text()
        raise RuntimeError("set JWT_PRIVATE_KEY or JWT_PRIVATE_KEY_FILE")

    def public_key_pem(self) -> str:
        """The public key: configured, or derived from the private key."""
        if self.jwt_public_key is not None or self.jwt_public_key_file is not None:
            return super().public_key_pem()
        return public_key_pem(self.private_key_pem())


def load() -> UserSettings:
    """Settings from the environment, failing clearly when one is missing."""
    return load_settings(UserSettings)
