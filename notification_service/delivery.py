"""Sends pending emails over SMTP, retrying with back-off."""

from __future__ import annotations

import functools
import logging
import smtplib
import ssl
import uuid
from dataclasses import dataclass
from datetime import timedelta
from email import policy
from email.headerregistry import HeaderRegistry
from email.message import EmailMessage
from html import escape
from urllib.parse import urlencode

from sqlalchemy import bindparam, select, update

from auction_common.db import Database, plan_this_transaction
from auction_common.events import utcnow

from .models import Contact, EmailDelivery

log = logging.getLogger(__name__)


class _HeaderTypes(HeaderRegistry):
    """The standard header types, each class made once: the stdlib's registry makes a new
    class for every header it parses (``type(...)`` on each ``msg[name] = value``), which
    was about a third of building an email."""

    @functools.lru_cache(maxsize=256)  # noqa: B019 (one registry for the process)
    def __getitem__(self, name: str) -> type:
        return super().__getitem__(name)


#: ``email.policy.default`` (what ``EmailMessage()`` uses), with the header classes kept.
_POLICY = policy.default.clone(header_factory=_HeaderTypes())
_deliveries = EmailDelivery.__table__
_contacts = Contact.__table__

#: The next due email whose address is known, taken so that no other worker sends it too.
_NEXT_DUE = (
    select(_deliveries.c.id, _deliveries.c.subject, _deliveries.c.text_body,
           _deliveries.c.html_body, _deliveries.c.unsubscribe_token, _deliveries.c.attempts,
           _contacts.c.email)
    .join(_contacts, _contacts.c.user_id == _deliveries.c.user_id)
    .where(_deliveries.c.status == "pending", _deliveries.c.next_attempt_at <= bindparam("now"))
    .order_by(_deliveries.c.next_attempt_at)
    .limit(1)
    .with_for_update(of=_deliveries, skip_locked=True)
)


#: The next due delivery is found by walking the index of pending ones in due order, never by
#: collecting every pending delivery and sorting them: with stale statistics (a bidding war
#: fills the table faster than autoanalyze runs) the planner chose a bitmap scan, a hash join
#: and a sort of the whole backlog for each email (6.5 ms per email with 1,100 pending,
#: measured under 170 bids/s), so the job slowed down as its backlog grew. For this
#: transaction only.
_IN_DUE_ORDER = {"enable_bitmapscan": "off", "enable_sort": "off"}


def build_email(sender: str, to: str, subject: str, text: str, html: str,
                unsubscribe: Unsubscribe | None = None,
                delivery_id: str | None = None) -> EmailMessage:
    """A multipart (text + HTML) email; with ``unsubscribe``, a link at its foot and the
    one-click ``List-Unsubscribe`` headers (RFC 8058) that turn its kind's email off. Its
    Message-ID is made from the delivery's id, so a message sent again (the send succeeded,
    recording it did not) is recognisably the same one: mail clients show it once."""
    message = EmailMessage(policy=_POLICY)
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    if unsubscribe is not None:
        message["List-Unsubscribe"] = f"<{unsubscribe.one_click_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        text = (f"{text.rstrip()}\n\nNo more emails like this one: {unsubscribe.page_url}\n")
        html = (f'{html}\n<p style="font-size:small;color:#666">No more emails like this one? '
                f'<a href="{escape(unsubscribe.page_url)}">Unsubscribe</a></p>\n')
    if delivery_id is not None:
        domain = sender.rpartition("@")[2].strip("> ") or "localhost"
        message["Message-ID"] = f"<{delivery_id}@{domain}>"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


@dataclass(frozen=True)
class Unsubscribe:
    """Where a token turns its email off: the page a person opens, the URL a mail client
    POSTs to (``List-Unsubscribe=One-Click``)."""

    page_url: str
    one_click_url: str

    @classmethod
    def of(cls, public_url: str, token: str | None) -> Unsubscribe | None:
        """The links of ``token`` under the site's public address (None without a token)."""
        if token is None:
            return None
        query = urlencode({"token": token})
        base = public_url.rstrip("/")
        return cls(f"{base}/unsubscribe?{query}",
                   f"{base}/api/notifications/unsubscribe?{query}")


def connect_smtp(settings) -> smtplib.SMTP:
    """A session with the mail server as the settings say: plain, STARTTLS or TLS (the
    server's certificate verified against the system's CAs or ``SMTP_CA_FILE``), logged in
    when credentials are set."""
    context = None
    if settings.smtp_security != "none":
        context = ssl.create_default_context(
            cafile=str(settings.smtp_ca_file) if settings.smtp_ca_file else None)
    if settings.smtp_security == "tls":
        smtp = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port,
                                timeout=settings.smtp_timeout_seconds, context=context)
    else:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port,
                            timeout=settings.smtp_timeout_seconds)
    try:
        if settings.smtp_security == "starttls":
            smtp.starttls(context=context)
        if settings.smtp_username is not None:
            smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
    except BaseException:
        smtp.close()
        raise
    return smtp


def deliver_pending_emails(db: Database, settings, batch_size: int = 100,
                           accepted: set[uuid.UUID] | None = None) -> int:
    """Send due emails whose recipient's address is known, up to ``batch_size`` over one SMTP
    session; returns how many were sent.

    Each email is taken (SKIP LOCKED, so that several workers share the work without sending
    twice), sent and recorded in a transaction of its own, so a crash after the server
    accepted it sends at most that one again (with the same Message-ID, which a mailbox
    shows once), not the whole batch. ``accepted`` (kept by the caller from one round to the
    next) remembers the emails the server accepted but the database did not record — its
    connection was lost in that moment, a restart — so that a later round records them
    without sending them again. A failure schedules a retry (exponential back-off) until
    ``delivery_max_attempts``; when the server cannot be reached, the round ends there.
    """
    accepted = set() if accepted is None else accepted
    sent, smtp = 0, None
    try:
        for _ in range(batch_size):
            with db.unit_of_work() as uow:
                plan_this_transaction(uow.session, _IN_DUE_ORDER)
                delivery = uow.session.execute(_NEXT_DUE, {"now": utcnow()}).first()
                if delivery is None:
                    break
                if delivery.id in accepted:  # sent in an earlier round, recorded only now
                    _sent(uow, delivery)
                    uow.commit()
                    accepted.discard(delivery.id)
                    continue
                try:
                    if smtp is None:
                        smtp = connect_smtp(settings)
                    smtp.send_message(build_email(
                        settings.mail_from, delivery.email, delivery.subject,
                        delivery.text_body, delivery.html_body,
                        Unsubscribe.of(settings.public_url, delivery.unsubscribe_token),
                        str(delivery.id)))
                except (smtplib.SMTPException, OSError) as exc:
                    _failed(uow, delivery, exc, settings.delivery_max_attempts)
                    uow.commit()
                    if smtp is None:  # the server is unreachable: the others wait their turn
                        break
                    continue
                accepted.add(delivery.id)  # the server has it, whatever becomes of this commit
                _sent(uow, delivery)
                uow.commit()
                accepted.discard(delivery.id)
                sent += 1
    finally:
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()
    return sent


def _sent(uow, delivery) -> None:
    uow.session.execute(update(_deliveries).where(_deliveries.c.id == delivery.id).values(
        status="sent", sent_at=utcnow(), attempts=delivery.attempts + 1))


def _failed(uow, delivery, exc: Exception, max_attempts: int) -> None:
    attempts = delivery.attempts + 1
    changes = {"attempts": attempts, "last_error": repr(exc)[:1000]}
    if attempts >= max_attempts:
        changes["status"] = "failed"
        log.error("email delivery failed for good", extra={"delivery_id": str(delivery.id)})
    else:
        changes["next_attempt_at"] = utcnow() + timedelta(seconds=min(600, 2**attempts))
    uow.session.execute(update(_deliveries).where(_deliveries.c.id == delivery.id)
                        .values(**changes))
