"""What the bidder's pages and the seller's pages share about listings: the catalog's
categories and conditions for a select, and the session's count of photos a page's script
added (the selling pages add them, the auction page says how many)."""

from __future__ import annotations

from . import presenters
from .api_client import ApiErrorAnswer
from .auth import api

#: Session key: photos the page's script added one request at a time, said on the next page.
PHOTOS_ADDED = "photos_added"


def categories() -> list[dict]:
    """The catalog's categories for a select (a fixed list when the API cannot say)."""
    try:
        items = api().auction_categories()
    except ApiErrorAnswer:
        items = None
    return presenters.category_options(items)


def conditions() -> list[dict]:
    """The catalog's conditions for a select (a fixed list when the API cannot say)."""
    try:
        items = api().auction_conditions()
    except ApiErrorAnswer:
        items = None
    return presenters.condition_options(items)
