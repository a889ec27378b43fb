"""user_service's own commands: ``python -m user_service create-admin --email ...``."""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from pydantic import TypeAdapter, ValidationError

from auction_common.migrations import upgrade

from . import handlers
from .domain import AccountEmail, AccountError, DisplayName
from .settings import UserSettings


def create_admin(settings: UserSettings, arguments: list[str]) -> None:
    """Create the first administrator, or make an existing account one (idempotent).

    The password comes from ``--password``, else ``ADMIN_PASSWORD``, else a prompt.
    """
    from .app import SERVICE_DIR, build_parts, password_hashing

    parser = argparse.ArgumentParser(
        prog="python -m user_service create-admin",
        description="Create an administrator account, or make an existing account one.")
    parser.add_argument("--email", required=True)
    parser.add_argument("--password", help="default: $ADMIN_PASSWORD, else asked for")
    parser.add_argument("--display-name", default="Administrator")
    args = parser.parse_args(arguments)
    try:
        email = TypeAdapter(AccountEmail).validate_python(args.email)
        display_name = TypeAdapter(DisplayName).validate_python(args.display_name)
    except ValidationError as exc:
        sys.exit(f"create-admin: {exc.errors(include_url=False)[0]['msg']}")

    upgrade(SERVICE_DIR, settings.database_url)
    db = build_parts(settings).db
    password = args.password or os.environ.get("ADMIN_PASSWORD") or None
    try:
        if handlers.get_user_by_email(db, email) is None and password is None:
            password = _ask_password()
        user, created = handlers.create_admin(db, password_hashing(settings), email, password,
                                              display_name, settings.password_min_length)
    except AccountError as exc:
        sys.exit(f"create-admin: {exc.message}")
    finally:
        db.engine.dispose()
    if created:
        print(f"Created administrator {user['email']} ({user['id']}).")
    else:
        print(f"{user['email']} ({user['id']}) is an administrator; its password is unchanged.")


def _ask_password() -> str:
    if not sys.stdin.isatty():
        sys.exit("create-admin: give --password or ADMIN_PASSWORD (no terminal to ask on)")
    password = getpass.getpass("Password for the new administrator: ")
    if getpass.getpass("Again: ") != password:
        sys.exit("create-admin: the two passwords differ")
    return password


COMMANDS = {"create-admin": create_admin}
