"""What each kind of notification says, in the app and by email (Jinja templates)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from auction_common.money import format_money

#: The templates ship with the code and change only with a deploy (a restart): Jinja's default
#: checks each one's file on disk at every render, a ``stat`` per email (~2% of the notification
#: worker's time under a stream of outbid emails, py-spy).
_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    auto_reload=False,
)


def render(template: str, context: dict) -> str:
    """One of the email templates, rendered (HTML ones escape what they insert)."""
    return _templates.get_template(template).render(context)


@dataclass(frozen=True)
class Message:
    """One notification, rendered."""

    kind: str
    title: str
    body: str
    email_subject: str
    email_text: str
    email_html: str


def outbid_notice(data: dict) -> tuple[str, str]:
    """``bid.outbid``'s in-app title and body (without the email: all that a notice brought
    up to date needs)."""
    price = format_money(data["current_price"], data["currency"])
    min_next = format_money(data["min_next_bid"], data["currency"])
    return (f"You have been outbid on {data['title']}",
            f"The price is now {price}. Bid {min_next} or more to lead.")


def outbid_message(data: dict, display_name: str, public_url: str) -> Message:
    """``bid.outbid``: you are no longer the highest bidder."""
    context = {
        "name": display_name,
        "title": data["title"],
        "price": format_money(data["current_price"], data["currency"]),
        "min_next": format_money(data["min_next_bid"], data["currency"]),
        "url": f"{public_url.rstrip('/')}/auctions/{data['auction_id']}",
    }
    title, body = outbid_notice(data)
    return Message(
        kind="outbid", title=title, body=body, email_subject=title,
        email_text=_templates.get_template("outbid.txt").render(context),
        email_html=_templates.get_template("outbid.html").render(context),
    )


@dataclass(frozen=True)
class Party:
    """One side of a sale as the other side sees it (from the contact replica)."""

    display_name: str
    email: str | None


#: What the buyer and the seller do after a sale (payment itself is not the platform's).
NEXT_STEP_BUYER = "Contact the seller to arrange payment and delivery."
NEXT_STEP_SELLER = "The buyer has been given your contact: expect them to get in touch to " \
                   "arrange payment and delivery, or write to them first."


def _url(public_url: str, auction_id: str) -> str:
    return f"{public_url.rstrip('/')}/auctions/{auction_id}"


def _rendered(kind: str, title: str, body: str, template: str, context: dict) -> Message:
    return Message(
        kind=kind, title=title, body=body, email_subject=title,
        email_text=_templates.get_template(f"{template}.txt").render(context),
        email_html=_templates.get_template(f"{template}.html").render(context),
    )


def _contact_line(party: Party) -> str:
    return f"{party.display_name} <{party.email}>" if party.email else party.display_name


def won_message(data: dict, display_name: str, public_url: str,
                seller: Party | None = None) -> Message:
    """``auction.ended`` with a winner: you won, this is the seller, this is what comes next."""
    price = format_money(data["price"], data["currency"])
    title = f"You won {data['title']}"
    body = f"Congratulations: you won for {price}."
    if seller is not None:
        body += f" The seller is {_contact_line(seller)}. {NEXT_STEP_BUYER}"
    return _rendered("won", title, body, "won", {
        "name": display_name, "title": data["title"], "price": price,
        "url": _url(public_url, data["auction_id"]), "seller": seller,
        "next_step": NEXT_STEP_BUYER,
    })


def seller_message(data: dict, display_name: str, public_url: str,
                   buyer: Party | None = None) -> Message:
    """``auction.ended``: how the seller's listing ended (when sold: to whom, for how much)."""
    if data["outcome"] == "sold":
        price = format_money(data["price"], data["currency"])
        title = f"Sold: {data['title']} for {price}"
        body = f"Your listing sold for {price}."
        if buyer is not None:
            body += f" The buyer is {_contact_line(buyer)}. {NEXT_STEP_SELLER}"
    elif data["outcome"] == "unsold_reserve_not_met":
        title, body = f"Not sold: {data['title']}", "Bidding did not reach your reserve price."
    else:
        title, body = f"Not sold: {data['title']}", "Your listing ended without a sale."
    return _rendered("listing_ended", title, body, "listing_ended", {
        "name": display_name, "title": data["title"], "summary": body,
        "url": _url(public_url, data["auction_id"]),
    })


def lost_message(data: dict, display_name: str, public_url: str, highest: bool) -> Message:
    """``auction.ended``: a bidder who did not win, and why (``highest``: they bid the most,
    but not the reserve)."""
    outcome = data["outcome"]
    if outcome == "sold":
        price = format_money(data["price"], data["currency"])
        title = f"You did not win {data['title']}"
        body = f"The auction ended and another bidder won it for {price}."
    elif outcome == "unsold_reserve_not_met" and highest:
        title = f"Reserve not met: {data['title']}"
        body = ("You were the highest bidder, but your bid did not reach the seller's reserve "
                "price, so the item did not sell.")
    elif outcome == "unsold_reserve_not_met":
        title = f"You did not win {data['title']}"
        body = "The auction ended without a sale: bidding did not reach the reserve price."
    else:  # cancelled
        title = f"Withdrawn: {data['title']}"
        body = "The seller withdrew this listing, so nobody won it. Your bid no longer counts."
    return _rendered("lost", title, body, "lost", {
        "name": display_name, "title": data["title"], "summary": body,
        "url": _url(public_url, data["auction_id"]),
    })


def ending_soon_message(title: str, auction_id: str, ends_at: str, display_name: str,
                        public_url: str) -> Message:
    """A watched listing ends soon."""
    context = {"name": display_name, "title": title, "ends_at": ends_at,
               "url": f"{public_url.rstrip('/')}/auctions/{auction_id}"}
    heading = f"Ending soon: {title}"
    body = f"An auction you watch ends at {ends_at}."
    return Message(
        kind="ending_soon", title=heading, body=body, email_subject=heading,
        email_text=_templates.get_template("ending_soon.txt").render(context),
        email_html=_templates.get_template("ending_soon.html").render(context),
    )
