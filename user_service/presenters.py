"""How user_service's accounts look from outside (the JSON its API answers)."""

from __future__ import annotations

from auction_common.events import isoformat

from .models import User


def account_view(user: User) -> dict:
    """The fields of an account that its owner (and an administrator) sees."""
    return {
        "id": str(user.id),
        "email": user.email,
        "display_name": user.display_name,
        "role": user.role,
        "status": user.status,
        "created_at": isoformat(user.created_at),
    }


def profile_view(account: dict, for_admin: bool) -> dict:
    """A user's public profile (name and since when), from :func:`account_view`'s fields; an
    administrator also sees the email, role and status."""
    profile = {"id": account["id"], "display_name": account["display_name"],
               "member_since": account["created_at"]}
    if for_admin:
        profile |= {"email": account["email"], "role": account["role"],
                    "status": account["status"]}
    return profile
