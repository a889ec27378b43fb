"""HTTP routes of notification_service."""

from __future__ import annotations

import uuid

from flask import Blueprint, current_app, jsonify
from pydantic import BaseModel, ConfigDict, Field, StrictBool
from sqlalchemy import select, update

from auction_common.api import OpenApi
from auction_common.auth import current_user_id
from auction_common.errors import ApiError
from auction_common.events import isoformat, utcnow

from .models import Notification
from .preferences import KINDS, email_preferences, set_email_preferences

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


class EmailChoices(BaseModel):
    """Per kind of notification, whether it also comes by email."""

    model_config = ConfigDict(extra="forbid")

    outbid: StrictBool | None = Field(default=None, description=KINDS["outbid"])
    won: StrictBool | None = Field(default=None, description=KINDS["won"])
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
