"""Account rules, free of Flask and SQL."""

from __future__ import annotations

import hashlib
import secrets
from typing import Annotated

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, EmailStr, Field, StringConstraints
from pydantic_core import PydanticCustomError

from auction_common.api import has_visible_text
from auction_common.problems import Problem


class AccountError(Problem):
    """A rule about accounts was broken; ``code`` is the machine-readable reason."""

    def __init__(self, code: str, message: str, status: int = 422, details=None):
        super().__init__(status, code, message, details)


#: Text a person types in one line: no control characters (PostgreSQL refuses NUL, and a
#: newline in a name shown to others is a trick, not a name).
ONE_LINE = r"^[^\x00-\x1f\x7f]*$"


def _visible(value: str) -> str:
    if not has_visible_text(value):
        raise PydanticCustomError("blank", "must show something, not only invisible characters")
    return value


#: What a display name may be, wherever one is given (the API, ``create-admin``). Stripped
#: before the length check: a name of only spaces is no name.
DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                               max_length=60, pattern=ONE_LINE),
                        AfterValidator(_visible)]


def normalise_email(email: str) -> str:
    """Emails compare case-insensitively and without surrounding spaces, and a domain outside
    ASCII (``ann@exämple.com``) in its ASCII form (IDNA: ``ann@xn--exmple-cua.com``), the
    form an account keeps: whichever of the two a person types, it is the same account."""
    email = email.strip().lower()
    if not email.isascii():
        try:
            email = (validate_email(email, check_deliverability=False).ascii_email
                     or email).lower()
        except EmailNotValidError:
            pass  # not an address: it matches no account, as it is
    return email


def _ascii_address(email: str) -> str:
    ascii_form = normalise_email(email)
    if not ascii_form.isascii():
        raise PydanticCustomError(
            "email_not_ascii", "use an address without accents or other non-ASCII "
            "characters before the @: mail to such an address does not reach every mailbox")
    return ascii_form


#: An address an account may have (the API, ``create-admin``): a valid one, kept lowercase
#: with its domain in ASCII. Emails go out through whatever SMTP server the operator has,
#: and one outside ASCII before the @ needs SMTPUTF8 from every server on its way.
AccountEmail = Annotated[EmailStr, Field(max_length=254), AfterValidator(_ascii_address)]


#: Roles and statuses an account can have (also CHECK constraints in the database).
ROLES = ("user", "admin")
STATUSES = ("active", "suspended")


def new_refresh_token() -> tuple[str, str]:
    """A fresh opaque refresh token and the hash we store instead of it."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    """The stored form of a refresh token."""
    return hashlib.sha256(token.encode()).hexdigest()
