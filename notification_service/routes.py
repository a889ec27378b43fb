"""HTTP routes of notification_service: parse the request, call a use case (``handlers``),
answer its JSON."""

from __future__ import annotations

import uuid

from flask import Blueprint, current_app, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from auction_common.api import OpenApi, parse_json_body
from auction_common.auth import current_user_id

from . import handlers
from .preferences import KINDS

bp = Blueprint("notifications", __name__)
api = OpenApi("notification_service", description="In-app notifications and email.")


class NotificationOut(BaseModel):
    id: str
    kind: str
    title: str
    body: str
    data: dict
    created_at: str
    read_at: str | None


class NotificationPage(BaseModel):
    items: list[NotificationOut]
    next_cursor: str | None


class PageQuery(BaseModel):
    limit: int = Field(default=20, ge=1, le=100)
    cursor: uuid.UUID | None = Field(default=None, description="id of the last item seen")


def _db():
    return current_app.extensions["db"]


@api.route(bp, "/api/notifications", "GET", summary="My notifications, newest first",
           query=PageQuery, response=NotificationPage, auth=True, tag="notifications")
def mine(query: PageQuery):
    return jsonify(handlers.list_notifications(_db(), current_user_id(), query.limit,
                                               query.cursor))


@api.route(bp, "/api/notifications/<uuid:notification_id>/read", "POST",
           summary="Mark a notification read", status=204, auth=True, errors=(404,),
           tag="notifications")
def mark_read(notification_id: uuid.UUID):
    handlers.mark_read(_db(), current_user_id(), notification_id)
    return "", 204


class UnreadCount(BaseModel):
    count: int = Field(description="How many of my notifications are unread")


class ReadChoice(BaseModel):
    """Which notifications to mark read: the ones a page showed, or (no body) all."""

    model_config = ConfigDict(extra="forbid")

    ids: list[uuid.UUID] | None = Field(default=None, max_length=100,
                                        description="Only these (others' ids are ignored)")


@api.route(bp, "/api/notifications/unread-count", "GET", summary="How many are unread",
           response=UnreadCount, auth=True, tag="notifications")
def unread_count():
    return jsonify({"count": handlers.unread_count(_db(), current_user_id())})


@api.route(bp, "/api/notifications/read-all", "POST",
           summary="Mark all my notifications read (or only `ids`); answers the unread count "
                   "left", response=UnreadCount, auth=True, tag="notifications")
def mark_all_read():
    # A body is optional here: a bare POST marks everything read.
    choice = parse_json_body(ReadChoice) if request.content_length else ReadChoice()
    return jsonify({"count": handlers.mark_all_read(_db(), current_user_id(), choice.ids)})


api.paths["/api/notifications/read-all"]["post"]["requestBody"] = {
    "required": False,
    "content": {"application/json": {"schema": ReadChoice.model_json_schema()}},
}


class TokenQuery(BaseModel):
    token: str = Field(min_length=1, max_length=200,
                       description="The token of an email's unsubscribe link")


class Subscription(BaseModel):
    kind: str
    description: str
    email: bool = Field(description="Whether this kind still comes by email")


@api.route(bp, "/api/notifications/unsubscribe", "GET",
           summary="What an unsubscribe token turns off (no sign-in)", query=TokenQuery,
           response=Subscription, errors=(400,), tag="preferences")
def unsubscribe_preview(query: TokenQuery):
    return jsonify(handlers.unsubscribe_preview(_db(), query.token))


@api.route(bp, "/api/notifications/unsubscribe", "POST",
           summary="Turn off the kind of email a token names: the one-click unsubscribe "
                   "(RFC 8058 List-Unsubscribe-Post; no sign-in, any body)", query=TokenQuery,
           response=Subscription, errors=(400,), tag="preferences")
def unsubscribe(query: TokenQuery):
    return jsonify(handlers.unsubscribe(_db(), query.token))


class Counterpart(BaseModel):
    role: str = Field(description="`seller` or `buyer`")
    user_id: str
    display_name: str
    email: str | None


class SaleContact(BaseModel):
    auction_id: str
    title: str
    price: int
    currency: str
    role: str = Field(description="The caller's side: `buyer` or `seller`")
    counterpart: Counterpart
    next_step: str


@api.route(bp, "/api/notifications/sales/<uuid:auction_id>", "GET",
           summary="A sold auction's other party: the seller's contact for the buyer, the "
                   "buyer's for the seller (nobody else)", response=SaleContact, auth=True,
           errors=(404,), tag="sales")
def sale(auction_id: uuid.UUID):
    return jsonify(handlers.sale_contact(_db(), auction_id, current_user_id()))


class EmailChoices(BaseModel):
    """Per kind of notification, whether it also comes by email."""

    model_config = ConfigDict(extra="forbid")

    outbid: StrictBool | None = Field(default=None, description=KINDS["outbid"])
    won: StrictBool | None = Field(default=None, description=KINDS["won"])
    lost: StrictBool | None = Field(default=None, description=KINDS["lost"])
    listing_ended: StrictBool | None = Field(default=None, description=KINDS["listing_ended"])
    ending_soon: StrictBool | None = Field(default=None, description=KINDS["ending_soon"])


class Preferences(BaseModel):
    email: EmailChoices


class PreferencesOut(BaseModel):
    email: dict[str, bool] = Field(description="Every kind, true when it comes by email")


@api.route(bp, "/api/notifications/preferences", "GET",
           summary="Which notifications also come by email", response=PreferencesOut,
           auth=True, tag="notifications")
def preferences():
    return jsonify({"email": handlers.email_choices(_db(), current_user_id())})


@api.route(bp, "/api/notifications/preferences", "PUT",
           summary="Choose which notifications also come by email (kinds left out keep "
                   "their choice)", body=Preferences, response=PreferencesOut, auth=True,
           tag="notifications")
def choose_preferences(body: Preferences):
    return jsonify({"email": handlers.choose_email(
        _db(), current_user_id(), body.email.model_dump(exclude_none=True))})
