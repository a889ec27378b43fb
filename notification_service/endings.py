"""After the hammer falls: everyone who took part is told once, and a sale's buyer and seller
learn how to reach each other (and nobody else does)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from auction_common.db import UnitOfWork
from auction_common.problems import Problem

from .messages import (
    NEXT_STEP_BUYER,
    NEXT_STEP_SELLER,
    Party,
    lost_message,
    seller_message,
    won_message,
)
from .models import Contact, Sale
from .notices import Notice, display_names, notify_many

_contacts = Contact.__table__
_sales = Sale.__table__


def party(uow: UnitOfWork, user_id: str | uuid.UUID) -> Party:
    """A user's display name and email from the contact replica (a placeholder while the
    replica has not heard of them)."""
    row = uow.session.execute(
        select(_contacts.c.display_name, _contacts.c.email)
        .where(_contacts.c.user_id == uuid.UUID(str(user_id)))).first()
    return Party(row.display_name, row.email) if row else Party("a user of the platform", None)


def send_ending_notices(uow: UnitOfWork, event: dict, public_url: str) -> None:
    """``auction.ended``: the winner (with the seller's contact), the seller (with the buyer's
    contact and the price, or why it did not sell) and every other bidder (``lost``; the
    highest one told when the reserve stopped them). A withdrawn listing needs no notice for
    the seller (they did it), but its bidders are told."""
    data = event["data"]
    auction_id, outcome, winner_id = data["auction_id"], data["outcome"], data["winner_id"]
    details = {"auction_id": auction_id, "outcome": outcome}
    losers = [bidder_id for bidder_id in data.get("bidder_ids") or ()
              if bidder_id not in (winner_id, data["seller_id"])]
    # Every name in one query, every notice in a few statements: an auction may have had
    # dozens of bidders.
    names = display_names(uow, [data["seller_id"], *([winner_id] if winner_id else []),
                                *losers])
    notices: list[Notice] = []
    if outcome == "sold" and winner_id:
        _record_sale(uow, data)
        seller, buyer = party(uow, data["seller_id"]), party(uow, winner_id)
        notices.append((winner_id, won_message(data, names[winner_id], public_url, seller),
                        {"auction_id": auction_id,
                         "seller": _contact_data(data["seller_id"], seller)}))
        notices.append((data["seller_id"],
                        seller_message(data, names[data["seller_id"]], public_url, buyer),
                        {**details, "buyer": _contact_data(winner_id, buyer)}))
    elif outcome != "cancelled":
        notices.append((data["seller_id"], seller_message(
            data, names[data["seller_id"]], public_url), details))
    highest = data.get("high_bidder_id")
    for bidder_id in losers:
        message = lost_message(data, names[bidder_id], public_url,
                               highest=bidder_id == highest)
        notices.append((bidder_id, message,
                        {**details, "highest_bidder": bidder_id == highest}))
    notify_many(uow, notices)


def _contact_data(user_id: str, who: Party) -> dict:
    return {"user_id": user_id, "display_name": who.display_name, "email": who.email}


def _record_sale(uow: UnitOfWork, data: dict) -> None:
    uow.session.execute(insert(_sales).values(
        auction_id=uuid.UUID(data["auction_id"]), seller_id=uuid.UUID(data["seller_id"]),
        buyer_id=uuid.UUID(data["winner_id"]), title=data["title"], price=data["price"],
        currency=data["currency"], ended_at=datetime.fromisoformat(data["ended_at"]),
    ).on_conflict_do_nothing(index_elements=[_sales.c.auction_id]))


def sale_contact(uow: UnitOfWork, auction_id: uuid.UUID, user_id: str) -> dict:
    """For the buyer or the seller of a sold auction: the other party's display name and
    email (as they are now), the price and the next step. 404 ``sale_not_found`` for anyone
    else, and for an auction that did not sell: a third party learns nothing, not even
    whether there is a sale to hide."""
    sale = uow.session.execute(select(_sales).where(_sales.c.auction_id == auction_id)).first()
    viewer = uuid.UUID(user_id)
    if sale is None or viewer not in (sale.buyer_id, sale.seller_id):
        raise Problem(404, "sale_not_found", "You are not the buyer or the seller of a sale "
                                             "of this auction.")
    buying = viewer == sale.buyer_id
    counterpart_id = sale.seller_id if buying else sale.buyer_id
    return {
        "auction_id": str(sale.auction_id), "title": sale.title, "price": sale.price,
        "currency": sale.currency, "role": "buyer" if buying else "seller",
        "counterpart": {"role": "seller" if buying else "buyer",
                        **_contact_data(str(counterpart_id), party(uow, counterpart_id))},
        "next_step": NEXT_STEP_BUYER if buying else NEXT_STEP_SELLER,
    }
