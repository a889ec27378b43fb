"""Sends pending emails over SMTP, retrying with back-off."""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
import uuid
from dataclasses import dataclass
from datetime import timedelta
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import Compat32
from email.utils import formataddr, parseaddr
from html import escape
from urllib.parse import urlencode

from psycopg2.extras import NamedTupleCursor

from auction_common.db import Database, execute_prepared, planner_settings_sql
from auction_common.events import utcnow

from .models import SCHEMA

log = logging.getLogger(__name__)


#: Both parts' text as UTF-8, quoted-printable: readable as it travels, lines kept short.
_UTF8 = Charset("utf-8")
_UTF8.body_encoding = QP
#: A header value that travels as it is: printable ASCII words, one space between them.
_ONE_LINE = re.compile(r"[\x21-\x7e]+(?: [\x21-\x7e]+)*")


class _MailPolicy(Compat32):
    """compat32, except that a header that fits on one line and is all printable ASCII words
    is written as it is: compat32 runs every header through ``email.header``'s folding, which
    leaves such a one unchanged and cost ~half of building and writing an email (14 headers
    in all, the parts' own included). Anything else is folded as before."""

    def fold_binary(self, name, value):
        if (isinstance(value, str) and self.max_line_length
                and len(name) + 2 + len(value) <= self.max_line_length
                and _ONE_LINE.fullmatch(value)):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


_POLICY = _MailPolicy()
#: Headers that hold addresses (a display name outside ASCII is encoded, the address kept).
_ADDRESS_HEADERS = frozenset({"From", "To"})
#: The next due email whose address is known, taken so that no other worker sends it too.
_NEXT_DUE = f"""
    SELECT d.id, d.subject, d.text_body, d.html_body, d.unsubscribe_token, d.attempts, c.email
    FROM "{SCHEMA}".email_deliveries AS d
    JOIN "{SCHEMA}".contacts AS c ON c.user_id = d.user_id
    WHERE d.status = 'pending' AND d.next_attempt_at <= :now
    ORDER BY d.next_attempt_at
    LIMIT 1
    FOR UPDATE OF d SKIP LOCKED"""

#: The next due delivery is found by walking the index of pending ones in due order, never by
#: collecting every pending delivery and sorting them: with stale statistics (a bidding war
#: fills the table faster than autoanalyze runs) the planner chose a bitmap scan, a hash join
#: and a sort of the whole backlog for each email (6.5 ms per email with 1,100 pending,
#: measured under 170 bids/s), so the job slowed down as its backlog grew. For this
#: transaction only, set in the same message as the query (which is planned when it runs).
_IN_DUE_ORDER = planner_settings_sql({"enable_bitmapscan": "off", "enable_sort": "off"})

_SENT = f"""
    UPDATE "{SCHEMA}".email_deliveries
    SET status = 'sent', sent_at = :now, attempts = attempts + 1
    WHERE id = :id"""

#: A failed attempt: again at ``:retry_at``, or failed for good when that is null.
_FAILED = f"""
    UPDATE "{SCHEMA}".email_deliveries
    SET attempts = attempts + 1, last_error = :error,
        status = CASE WHEN CAST(:retry_at AS timestamptz) IS NULL
                      THEN 'failed' ELSE status END,
        next_attempt_at = coalesce(CAST(:retry_at AS timestamptz), next_attempt_at)
    WHERE id = :id"""


def build_email(sender: str, to: str, subject: str, text: str, html: str,
                unsubscribe: Unsubscribe | None = None,
                delivery_id: str | None = None) -> Message:
    """A multipart (text + HTML) email; with ``unsubscribe``, a link at its foot and the
    one-click ``List-Unsubscribe`` headers (RFC 8058) that turn its kind's email off. Its
    Message-ID is made from the delivery's id, so a message sent again (the send succeeded,
    recording it did not) is recognisably the same one: mail clients show it once.

    Made with the ``email`` package's ``email.mime`` classes (its compat32 policy), headers
    outside ASCII encoded as RFC 2047 words here: the modern API (``EmailMessage``) parses
    and refolds every header it is given and again when sending, ~0.7 ms of CPU an email
    against ~0.25 ms, and a bidding war sends an email for almost every bid."""
    # A boundary of its own that no part can contain ("=_" is "=3D_" in quoted-printable,
    # the parts' encoding): the generator's own draws one and compiles a regular expression
    # to search both parts for it, ~4% of the notification worker's CPU in a bidding war.
    message = MIMEMultipart("alternative", boundary=f"=_{uuid.uuid4().hex}", policy=_POLICY)
    headers = {"From": sender, "To": to, "Subject": subject}
    if unsubscribe is not None:
        headers["List-Unsubscribe"] = f"<{unsubscribe.one_click_url}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        text = (f"{text.rstrip()}\n\nNo more emails like this one: {unsubscribe.page_url}\n")
        html = (f'{html}\n<p style="font-size:small;color:#666">No more emails like this one? '
                f'<a href="{escape(unsubscribe.page_url)}">Unsubscribe</a></p>\n')
    if delivery_id is not None:
        domain = sender.rpartition("@")[2].strip("> ") or "localhost"
        headers["Message-ID"] = f"<{delivery_id}@{domain}>"
    for name, value in headers.items():
        message[name] = _encoded(name, value)
    message.attach(MIMEText(text, "plain", _UTF8, policy=_POLICY))
    message.attach(MIMEText(html, "html", _UTF8, policy=_POLICY))
    return message


def _encoded(name: str, value: str) -> str | Header:
    """A header's value as it travels: as given in ASCII, else its non-ASCII words encoded
    (RFC 2047; an address's display name only, never the address)."""
    value = " ".join(value.splitlines())  # a header never spans lines it was not folded to
    if value.isascii():
        return value
    display_name, address = parseaddr(value)
    if name in _ADDRESS_HEADERS and address.isascii():
        return formataddr((display_name, address), charset="utf-8")
    return Header(value, "utf-8", header_name=name)


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
                           accepted: set | None = None) -> int:
    """Send due emails whose recipient's address is known, up to ``batch_size`` over one SMTP
    session; returns how many were sent.

    Each email is taken (SKIP LOCKED, so that several workers share the work without sending
    twice), sent and recorded in a transaction of its own, so a crash after the server
    accepted it sends at most that one again (with the same Message-ID, which a mailbox
    shows once), not the whole batch. Each transaction is two round trips to the database:
    BEGIN, the planner's settings and the take in one message, the record and COMMIT in the
    other (statements prepared once per connection), on one pooled connection for the round
    and its driver's cursor: through a unit of work and its session per email, the same
    statements cost the worker more CPU than building the email. ``accepted`` (kept by the
    caller from one round to the next) remembers the emails the server accepted but the
    database did not record — its connection was lost in that moment, a restart — so that a
    later round records them without sending them again. A failure schedules a retry
    (exponential back-off) until ``delivery_max_attempts``; when the server cannot be
    reached, the round ends there.
    """
    accepted = set() if accepted is None else accepted
    sent, smtp = 0, None
    # The envelope's addresses, given: smtplib would parse them out of each message's headers.
    envelope_sender = parseaddr(settings.mail_from)[1]
    try:
        with db.autocommit_connection() as raw, \
                raw.driver_connection.cursor(cursor_factory=NamedTupleCursor) as cursor:
            for _ in range(batch_size):
                execute_prepared(raw, cursor.execute, [_IN_DUE_ORDER, _NEXT_DUE], {"now": utcnow()},
                                 first="BEGIN")
                delivery = cursor.fetchone()
                if delivery is None:
                    cursor.execute("ROLLBACK")
                    break
                if delivery.id in accepted:  # sent in an earlier round, recorded only now
                    _sent(raw, cursor, delivery)
                    accepted.discard(delivery.id)
                    continue
                try:
                    if smtp is None:
                        smtp = connect_smtp(settings)
                    smtp.send_message(build_email(
                        settings.mail_from, delivery.email, delivery.subject,
                        delivery.text_body, delivery.html_body,
                        Unsubscribe.of(settings.public_url, delivery.unsubscribe_token),
                        str(delivery.id)), envelope_sender, [delivery.email])
                except (smtplib.SMTPException, OSError) as exc:
                    _failed(raw, cursor, delivery, exc, settings.delivery_max_attempts)
                    if smtp is None:  # the server is unreachable: the others wait their turn
                        break
                    continue
                accepted.add(delivery.id)  # the server has it, whatever becomes of the commit
                _sent(raw, cursor, delivery)
                accepted.discard(delivery.id)
                sent += 1
    finally:
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()
    return sent


def _sent(raw, cursor, delivery) -> None:
    """Record ``delivery`` sent, and commit."""
    execute_prepared(raw, cursor.execute, [_SENT], {"id": delivery.id, "now": utcnow()},
                     then="COMMIT")


def _failed(raw, cursor, delivery, exc: Exception, max_attempts: int) -> None:
    """Record a failed attempt at ``delivery`` (to be tried again later, or failed for good
    after ``max_attempts``), and commit."""
    attempts = delivery.attempts + 1
    retry_at = None
    if attempts >= max_attempts:
        log.error("email delivery failed for good", extra={"delivery_id": str(delivery.id)})
    else:
        retry_at = utcnow() + timedelta(seconds=min(600, 2**attempts))
    execute_prepared(raw, cursor.execute, [_FAILED],
                     {"id": delivery.id, "error": repr(exc)[:1000], "retry_at": retry_at},
                     then="COMMIT")
