"""HTTP routes of notification_service."""

from __future__ import annotations

import uuid

from flask import Blueprint, current_app, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, StrictBool
from sqlalchemy import func, select, update

from auction_common.api import OpenApi, parse_json_body
from auction_common.auth import current_user_id
from auction_common.errors import ApiError
from auction_common.events import isoformat, utcnow

from .endings import sale_contact
from .models import Notification
from .preferences import KINDS, email_preferences, set_email_preferences
from .unsubscribe import read_unsubscribe_token

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


def _view(n: Notification) -> dict:
    return {"id": str(n.id), "kind": n.kind, "title": n.title, "body": n.body, "data": n.data,
            "created_at": isoformat(n.created_at), "read_at": isoformat(n.read_at)}


@api.route(bp, "/api/notifications", "GET", summary="My notifications, newest first",
           query=PageQuery, response=NotificationPage, auth=True, tag="notifications")
def mine(query: PageQuery):
    user_id = uuid.UUID(current_user_id())
    statement = (select(Notification).where(Notification.user_id == user_id)
                 .order_by(Notification.created_at.desc(), Notification.id.desc()))
    with _db().unit_of_work() as uow:
        if query.cursor:
            last = uow.session.get(Notification, query.cursor)
            if last is None or last.user_id != user_id:
                raise ApiError(422, "validation_error", "The cursor is not valid.",
                               [{"field": "cursor", "message": "unknown notification"}])
            statement = statement.where(
                (Notification.created_at, Notification.id) < (last.created_at, last.id)
            )
        rows = uow.session.scalars(statement.limit(query.limit + 1)).all()
        items = [_view(n) for n in rows[: query.limit]]
    next_cursor = items[-1]["id"] if len(rows) > query.limit else None
    return jsonify({"items": items, "next_cursor": next_cursor})


@api.route(bp, "/api/notifications/<uuid:notification_id>/read", "POST",
           summary="Mark a notification read", status=204, auth=True, errors=(404,),
           tag="notifications")
def mark_read(notification_id: uuid.UUID):
    user_id = uuid.UUID(current_user_id())
    with _db().unit_of_work() as uow:
        result = uow.session.execute(
            update(Notification)
            .where(Notification.id == notification_id, Notification.user_id == user_id)
            .values(read_at=utcnow())
        )
        if result.rowcount == 0:
            raise ApiError(404, "notification_not_found", "No such notification.")
        uow.commit()
    return "", 204


class UnreadCount(BaseModel):
    count: int = Field(description="How many of my notifications are unread")


class ReadChoice(BaseModel):
    """Which notifications to mark read: the ones a page showed, or (no body) all."""

    model_config = ConfigDict(extra="forbid")

    ids: list[uuid.UUID] | None = Field(default=None, max_length=100,
                                        description="Only these (others' ids are ignored)")


def _unread(session, user_id: uuid.UUID) -> int:
    return session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)))


@api.route(bp, "/api/notifications/unread-count", "GET", summary="How many are unread",
           response=UnreadCount, auth=True, tag="notifications")
def unread_count():
    user_id = uuid.UUID(current_user_id())
    with _db().unit_of_work() as uow:
        return jsonify({"count": _unread(uow.session, user_id)})


@api.route(bp, "/api/notifications/read-all", "POST",
           summary="Mark all my notifications read (or only `ids`); answers the unread count "
                   "left", response=UnreadCount, auth=True, tag="notifications")
def mark_all_read():
    user_id = uuid.UUID(current_user_id())
    # A body is optional here: a bare POST marks everything read.
    choice = parse_json_body(ReadChoice) if request.content_length else ReadChoice()
    statement = (update(Notification)
                 .where(Notification.user_id == user_id, Notification.read_at.is_(None))
                 .values(read_at=utcnow()))
    if choice.ids is not None:
        statement = statement.where(Notification.id.in_(choice.ids))
    with _db().unit_of_work() as uow:
        uow.session.execute(statement)
        count = _unread(uow.session, user_id)
        uow.commit()
    return jsonify({"count": count})


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


def _subscription(session, user_id: uuid.UUID, kind: str) -> dict:
    return {"kind": kind, "description": KINDS[kind],
            "email": email_preferences(session, user_id)[kind]}


@api.route(bp, "/api/notifications/unsubscribe", "GET",
           summary="What an unsubscribe token turns off (no sign-in)", query=TokenQuery,
           response=Subscription, errors=(400,), tag="preferences")
def unsubscribe_preview(query: TokenQuery):
    with _db().unit_of_work() as uow:
        user_id, kind = read_unsubscribe_token(uow.session, query.token)
        answer = _subscription(uow.session, user_id, kind)
        uow.commit()  # the signing key, should this be its first use
    return jsonify(answer)


@api.route(bp, "/api/notifications/unsubscribe", "POST",
           summary="Turn off the kind of email a token names: the one-click unsubscribe "
                   "(RFC 8058 List-Unsubscribe-Post; no sign-in, any body)", query=TokenQuery,
           response=Subscription, errors=(400,), tag="preferences")
def unsubscribe(query: TokenQuery):
    with _db().unit_of_work() as uow:
        user_id, kind = read_unsubscribe_token(uow.session, query.token)
        set_email_preferences(uow.session, user_id, {kind: False})
        answer = _subscription(uow.session, user_id, kind)
        uow.commit()
    return jsonify(answer)


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
    with _db().unit_of_work() as uow:
        return jsonify(sale_contact(uow, auction_id, current_user_id()))


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
    user_id = uuid.UUID(current_user_id())
    with _db().unit_of_work() as uow:
        return jsonify({"email": email_preferences(uow.session, user_id)})


@api.route(bp, "/api/notifications/preferences", "PUT",
           summary="Choose which notifications also come by email (kinds left out keep "
                   "their choice)", body=Preferences, response=PreferencesOut, auth=True,
           tag="notifications")
def choose_preferences(body: Preferences):
    user_id = uuid.UUID(current_user_id())
    with _db().unit_of_work() as uow:
        set_email_preferences(uow.session, user_id, body.email.model_dump(exclude_none=True))
        uow.commit()
        return jsonify({"email": email_preferences(uow.session, user_id)})
