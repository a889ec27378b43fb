"""Password rules (pure functions) and password hashing (argon2id with parameters in settings).

The rules follow NIST SP 800-63B rather than composition rules: a minimum length, no password
from the list of the most common ones (``data/common-passwords.txt``, also with digits or
symbols stuck on its ends), no trivial pattern (too few different characters, a keyboard or
alphabet run), and nothing made of the account's own email or name.
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from .domain import AccountError

COMMON_PASSWORDS_FILE = Path(__file__).parent / "data" / "common-passwords.txt"
#: Fewer different characters than this is a pattern, not a password ("aaaaaaaa", "abababab").
MIN_DISTINCT_CHARACTERS = 5
#: Runs that people type as passwords: a slice of one of these, going round (``90123``) or
#: backwards, is refused.
RUNS = (
    string.ascii_lowercase,
    "1234567890",
    "qwertyuiop",
    "asdfghjkl",
    "zxcvbnm",
    "qwertzuiop",
    "azertyuiop",
)
#: Words of this site that make poor passwords whoever the user is.
SITE_WORDS = frozenset({"auction", "auctions", "auctionplatform", "auction platform"})
_PADDING = string.digits + string.punctuation + string.whitespace


@cache
def common_passwords() -> frozenset[str]:
    """The most common passwords, lower case (read once from the shipped data file)."""
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip())


def password_problems(password: str, min_length: int,
                      personal: Iterable[str | None] = ()) -> list[str]:
    """Why ``password`` is not acceptable, as sentences for its owner (empty when it is).

    ``personal`` holds the account's own words (email, display name), which make a password
    that anyone who knows the account can guess.
    """
    problems = []
    if len(password) < min_length:
        problems.append(f"Use at least {min_length} characters.")
    lowered = password.lower()
    core = lowered.strip(_PADDING)
    if len(set(password)) < MIN_DISTINCT_CHARACTERS:
        problems.append(f"Use at least {MIN_DISTINCT_CHARACTERS} different characters.")
    elif _is_run(lowered):
        problems.append("Avoid keyboard or alphabet runs such as 12345678 or qwertyui.")
    common = common_passwords()
    if lowered in common or lowered.strip() in common:
        problems.append("This is one of the most common passwords: choose another.")
    elif len(core) >= 4 and core in common:
        problems.append(
            "This is a common password with digits or symbols added: choose another."
        )
    own_words = _personal_words(personal) | SITE_WORDS
    if lowered.strip() in own_words or core in own_words:
        problems.append("Do not use your email address, your name or the site's name.")
    return problems


def check_password(password: str, min_length: int, personal: Iterable[str | None] = ()) -> None:
    """Raise ``weak_password`` (422) naming every problem, unless ``password`` is acceptable."""
    problems = password_problems(password, min_length, personal)
    if problems:
        raise AccountError(
            "weak_password",
            "This password is too easy to guess. " + " ".join(problems),
            details=[{"field": "password", "message": problem} for problem in problems],
        )


def _is_run(lowered: str) -> bool:
    cycles = [run * (len(lowered) // len(run) + 2) for run in RUNS]
    return any(lowered in cycle or lowered in cycle[::-1] for cycle in cycles)


def _personal_words(values: Iterable[str | None]) -> set[str]:
    words = set()
    for value in values:
        if not value:
            continue
        value = value.strip().lower()
        words.add(value)
        if "@" in value:
            local = value.split("@", 1)[0]
            words.add(local)
            words.add(local.strip(_PADDING))
    return {word for word in words if word}


class PasswordHashing:
    """argon2id hashing with the configured cost; tells when a stored hash needs renewing."""

    def __init__(self, time_cost: int, memory_cost: int, parallelism: int):
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost,
                                      parallelism=parallelism, type=Type.ID)
        # Verifying an unknown account against this keeps it as slow as a wrong password.
        self._dummy_hash = self._hasher.hash("not-a-real-password")

    def hash(self, password: str) -> str:
        """The argon2id hash of ``password`` (with a fresh salt)."""
        return self._hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """True when ``password`` matches; as slow without a hash (no such account) as with."""
        try:
            return self._hasher.verify(stored_hash or self._dummy_hash, password) and bool(
                stored_hash)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        """True when ``stored_hash`` was made with other parameters than today's."""
        try:
            return self._hasher.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True
