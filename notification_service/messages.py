"""What each kind of notification says, in the app and by email (Jinja templates)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)


def render(template: str, context: dict) -> str:
    """One of the email templates, rendered (HTML ones escape what they insert)."""
    return _templates.get_template(template).render(context)


def format_money(amount: int, currency: str) -> str:
    """``1250, "EUR"`` -> ``EUR 12.50`` (two-decimal currencies)."""
    return f"{currency} {amount // 100:,}.{amount % 100:02d}"


@dataclass(frozen=True)
class Message:
    """One notification, rendered."""

    kind: str
    title: str
    body: str
    email_subject: str
    email_text: str
    email_html: str


def outbid_message(data: dict, display_name: str, public_url: str) -> Message:
    """``bid.outbid``: you are no longer the highest bidder."""
    context = {
        "name": display_name,
        "title": data["title"],
        "price": format_money(data["current_price"], data["currency"]),
        "min_next": format_money(data["min_next_bid"], data["currency"]),
        "url": f"{public_url.rstrip('/')}/auctions/{data['auction_id']}",
    }
    title = f"You have been outbid on {data['title']}"
    body = f"The price is now {context['price']}. Bid {context['min_next']} or more to lead."
    return Message(
        kind="outbid", title=title, body=body, email_subject=title,
        email_text=_templates.get_template("outbid.txt").render(context),
        email_html=_templates.get_template("outbid.html").render(context),
    )


def won_message(data: dict, display_name: str, public_url: str) -> Message:
    """``auction.ended`` with a winner: you won."""
    context = {
        "name": display_name, "title": data["title"],
        "price": format_money(data["price"], data["currency"]),
        "url": f"{public_url.rstrip('/')}/auctions/{data['auction_id']}",
    }
    title = f"You won {data['title']}"
    body = f"Congratulations: you won for {context['price']}."
    return Message(
        kind="won", title=title, body=body, email_subject=title,
        email_text=_templates.get_template("won.txt").render(context),
        email_html=_templates.get_template("won.html").render(context),
    )


def seller_message(data: dict, display_name: str, public_url: str) -> Message:
    """``auction.ended``: how the seller's listing ended."""
    url = f"{public_url.rstrip('/')}/auctions/{data['auction_id']}"
    if data["outcome"] == "sold":
        price = format_money(data["price"], data["currency"])
        title = f"Sold: {data['title']} for {price}"
        body = f"Your listing sold for {price}."
    elif data["outcome"] == "unsold_reserve_not_met":
        title, body = f"Not sold: {data['title']}", "Bidding did not reach your reserve price."
    else:
        title, body = f"Not sold: {data['title']}", "Your listing ended without a sale."
    context = {"name": display_name, "title": data["title"], "summary": body, "url": url}
    return Message(
        kind="listing_ended", title=title, body=body, email_subject=title,
        email_text=_templates.get_template("listing_ended.txt").render(context),
        email_html=_templates.get_template("listing_ended.html").render(context),
    )


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
