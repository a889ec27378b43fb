"""Sends pending emails over SMTP, retrying with back-off."""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from html import escape
from urllib.parse import urlencode

from sqlalchemy import select

from auction_common.db import Database
from auction_common.events import utcnow

from .models import Contact, EmailDelivery

log = logging.getLogger(__name__)


def build_email(sender: str, to: str, subject: str, text: str, html: str,
                unsubscribe: Unsubscribe | None = None) -> EmailMessage:
    """A multipart (text + HTML) email; with ``unsubscribe``, a link at its foot and the
    one-click ``List-Unsubscribe`` headers (RFC 8058) that turn its kind's email off."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    if unsubscribe is not None:
        message["List-Unsubscribe"] = f"<{unsubscribe.one_click_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        text = (f"{text.rstrip()}\n\nNo more emails like this one: {unsubscribe.page_url}\n")
        html = (f'{html}\n<p style="font-size:small;color:#666">No more emails like this one? '
                f'<a href="{escape(unsubscribe.page_url)}">Unsubscribe</a></p>\n')
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


def deliver_pending_emails(db: Database, settings, batch_size: int = 20) -> int:
    """Send due emails whose recipient's address is known; returns how many were sent.

    Rows are taken with SKIP LOCKED so that several workers share the work without sending
    twice; a failure schedules a retry (exponential back-off) until ``delivery_max_attempts``.
    """
    sent = 0
    with db.unit_of_work() as uow:
        rows = uow.session.execute(
            select(EmailDelivery, Contact.email)
            .join(Contact, Contact.user_id == EmailDelivery.user_id)
            .where(EmailDelivery.status == "pending", EmailDelivery.next_attempt_at <= utcnow())
            .order_by(EmailDelivery.next_attempt_at)
            .limit(batch_size)
            .with_for_update(of=EmailDelivery, skip_locked=True)
        ).all()
        if not rows:
            return 0
        try:
            smtp = connect_smtp(settings)
        except (smtplib.SMTPException, OSError) as exc:
            for delivery, _ in rows:
                _failed(delivery, exc, settings.delivery_max_attempts)
            uow.commit()
            return 0
        with smtp:
            for delivery, address in rows:
                try:
                    smtp.send_message(build_email(
                        settings.mail_from, address, delivery.subject, delivery.text_body,
                        delivery.html_body,
                        Unsubscribe.of(settings.public_url, delivery.unsubscribe_token)))
                except (smtplib.SMTPException, OSError) as exc:
                    _failed(delivery, exc, settings.delivery_max_attempts)
                else:
                    delivery.status, delivery.sent_at = "sent", utcnow()
                    delivery.attempts += 1
                    sent += 1
        uow.commit()
    return sent


def _failed(delivery: EmailDelivery, exc: Exception, max_attempts: int) -> None:
    delivery.attempts += 1
    delivery.last_error = repr(exc)[:1000]
    if delivery.attempts >= max_attempts:
        delivery.status = "failed"
        log.error("email delivery failed for good", extra={"delivery_id": str(delivery.id)})
    else:
        delivery.next_attempt_at = utcnow() + timedelta(seconds=min(600, 2**delivery.attempts))
