"""notification_service on real PostgreSQL and a real SMTP server: in-app notices and email."""

from __future__ import annotations

import ipaddress
import smtplib
import ssl
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from auction_common.events import EventSchemas, isoformat, make_envelope
from bidding_service.app import EVENT_SCHEMAS as BIDDING_EVENT_SCHEMAS
from mailsink.smtp import start_smtp
from mailsink.store import Mailbox
from notification_service.app import EVENT_SCHEMAS, build_parts
from notification_service.consumers import notification_consumer
from notification_service.delivery import build_email, deliver_pending_emails
from tests.support.outbox import events_about
from tests.support.waiting import wait_for

PUBLIC_URL = "http://auctions.test"


@pytest.fixture(scope="module")
def client(notifications):
    return notifications[0].test_client()


@pytest.fixture(scope="module")
def db(notifications):
    return notifications[1].db


@pytest.fixture(scope="module")
def deliver(db):
    """Hand an event to the real notification consumer, as the broker would."""
    return notification_consumer(db, PUBLIC_URL)


@pytest.fixture(scope="module")
def announce(users, deliver):
    """Deliver an account's real ``user.registered`` event (from user_service's outbox)."""

    def announce(user) -> None:
        [event] = events_about(users[1].db, "user_id", user.id, "user.registered")
        deliver(event)

    return announce


def outbid(user_id: str, title: str = "Brass lamp", price: int = 1550,
           auction_id: str | None = None, seq: int = 2) -> dict:
    """A ``bid.outbid`` envelope as bidding_service publishes it (checked against its schema)."""
    envelope = make_envelope("bid.outbid", {
        "auction_id": auction_id or str(uuid.uuid4()), "seq": seq, "user_id": user_id,
        "title": title, "currency": "EUR", "current_price": price, "min_next_bid": price + 50,
        "ends_at": isoformat(datetime.now(UTC) + timedelta(hours=1)),
    }, producer="bidding_service")
    EventSchemas(BIDDING_EVENT_SCHEMAS).validate(envelope)
    return envelope


def notices(client, user) -> list[dict]:
    """GET /api/notifications as ``user``."""
    answer = client.get("/api/notifications", headers=user.headers)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["items"]


def deliveries(db, user_id: str) -> list:
    """The email deliveries of a user, oldest first."""
    with db.engine.connect() as conn:
        return conn.execute(text(
            "SELECT id, status, attempts, last_error, next_attempt_at, sent_at "
            "FROM notifications.email_deliveries WHERE user_id = :u ORDER BY created_at"),
            {"u": user_id}).all()


class MailSink:
    """The project's SMTP sink on a port of its own, which a test may stop and start again
    (``options``: aiosmtpd's, e.g. TLS and logins)."""

    def __init__(self, path, **options):
        self.mailbox = Mailbox(path)
        self.options = options
        self.controller = start_smtp(self.mailbox, **options)
        self.port = self.controller.port

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def start(self) -> None:
        self.controller = start_smtp(self.mailbox, port=self.port, **self.options)

    def mails_to(self, address: str) -> list[dict]:
        return [mail for mail in self.mailbox.items() if address in mail["to"]]


@pytest.fixture
def sink(tmp_path):
    sink = MailSink(tmp_path / "mail.jsonl")
    yield sink
    sink.stop()


@pytest.fixture
def send_emails(settings_for, sink):
    """Run one pass of the delivery job against ``sink``; returns how many were sent."""
    settings = settings_for("notification_service", smtp_port=sink.port, smtp_timeout_seconds=5)
    delivery_db = build_parts(settings).db
    yield lambda: deliver_pending_emails(delivery_db, settings)
    delivery_db.engine.dispose()


def send_until(send_emails, condition, message: str):
    """Run the delivery job until ``condition`` holds (other tests' mail may share a batch)."""

    def one_pass():
        send_emails()
        return condition()

    return wait_for(one_pass, timeout=15, message=message)


# --- in-app notifications -----------------------------------------------------------------


def test_an_outbid_bidder_sees_a_notification_naming_the_auction(client, account, announce,
                                                                 deliver):
    ann, bob = account("ann"), account("bob")
    announce(ann)
    event = outbid(ann.id, title="Brass lamp", price=1550)
    deliver(event)
    [notice] = notices(client, ann)
    assert notice["kind"] == "outbid"
    assert "Brass lamp" in notice["title"]
    assert "EUR 15.50" in notice["body"]
    assert notice["data"]["auction_id"] == event["data"]["auction_id"]
    assert notice["read_at"] is None
    assert notices(client, bob) == []


def test_a_redelivered_event_gives_one_notification(client, db, account, deliver):
    ann = account("ann")
    event = outbid(ann.id)
    deliver(event)
    deliver(event)
    assert len(notices(client, ann)) == 1
    assert len(deliveries(db, ann.id)) == 1
    with db.engine.connect() as conn:
        claimed = conn.execute(text("SELECT count(*) FROM notifications.inbox "
                                    "WHERE event_id = :e"), {"e": event["id"]}).scalar_one()
    assert claimed == 1


def test_a_new_notification_is_announced_with_notification_created(client, db, account,
                                                                   deliver):
    ann = account("ann")
    deliver(outbid(ann.id, title="Oak table"))
    [notice] = notices(client, ann)
    [event] = events_about(db, "user_id", ann.id, "notification.created")
    EventSchemas(EVENT_SCHEMAS).validate(event)
    assert event["data"]["notification_id"] == notice["id"]
    assert (event["data"]["kind"], event["data"]["title"]) == ("outbid", notice["title"])


def test_the_winner_is_told_they_won(client, account, announce, deliver):
    seller, ann, bob = account("seller"), account("ann"), account("bob")
    announce(ann)
    deliver(make_envelope("auction.ended", {
        "auction_id": str(uuid.uuid4()), "seq": 5, "outcome": "sold", "winner_id": ann.id,
        "price": 123_450, "currency": "EUR", "title": "Oak table", "seller_id": seller.id,
        "ended_at": isoformat(datetime.now(UTC)),
    }, producer="bidding_service"))
    [notice] = notices(client, ann)
    assert notice["kind"] == "won"
    assert "Oak table" in notice["title"]
    assert "EUR 1,234.50" in notice["body"]
    assert notices(client, bob) == []
    [sold] = notices(client, seller)
    assert (sold["kind"], sold["title"]) == ("listing_ended", "Sold: Oak table for EUR 1,234.50")


@pytest.mark.parametrize("outcome, says", [
    ("unsold_no_bids", "without a sale"),
    ("unsold_reserve_not_met", "reserve"),
])
def test_the_seller_is_told_when_a_listing_ends_unsold(client, account, deliver, outcome, says):
    seller = account("seller")
    deliver(make_envelope("auction.ended", {
        "auction_id": str(uuid.uuid4()), "seq": 2, "outcome": outcome, "winner_id": None,
        "price": None, "currency": "EUR", "title": "Oak chair", "seller_id": seller.id,
        "ended_at": isoformat(datetime.now(UTC)),
    }, producer="bidding_service"))
    [notice] = notices(client, seller)
    assert notice["title"] == "Not sold: Oak chair"
    assert says in notice["body"]


def test_marking_a_notification_read_is_only_for_its_owner(client, account, deliver):
    ann, bob = account("ann"), account("bob")
    deliver(outbid(ann.id))
    [notice] = notices(client, ann)
    someone_else = client.post(f"/api/notifications/{notice['id']}/read", headers=bob.headers)
    assert someone_else.status_code == 404
    assert someone_else.get_json()["error"]["code"] == "notification_not_found"
    assert notices(client, ann)[0]["read_at"] is None
    mine = client.post(f"/api/notifications/{notice['id']}/read", headers=ann.headers)
    assert mine.status_code == 204
    assert notices(client, ann)[0]["read_at"] is not None
    unknown = client.post(f"/api/notifications/{uuid.uuid4()}/read", headers=ann.headers)
    assert unknown.status_code == 404


def test_notifications_need_a_token(client):
    answer = client.get("/api/notifications")
    assert answer.status_code == 401
    assert answer.get_json()["error"]["code"] == "unauthorized"


# --- email ---------------------------------------------------------------------------------


def test_an_outbid_email_arrives_with_the_new_price(db, account, announce, deliver, sink,
                                                    send_emails):
    ann = account("ann")
    announce(ann)
    event = outbid(ann.id, title="Tom & Jerry <figurines>", price=1550)
    deliver(event)
    [mail] = send_until(send_emails, lambda: sink.mails_to(ann.email), "the outbid email")
    assert mail["subject"] == "You have been outbid on Tom & Jerry <figurines>"
    assert "Hello ann" in mail["text"]
    assert "EUR 15.50" in mail["text"]
    assert f"{PUBLIC_URL}/auctions/{event['data']['auction_id']}" in mail["text"]
    assert "Tom &amp; Jerry &lt;figurines&gt;" in mail["html"], "the HTML part escapes the title"
    [delivery] = deliveries(db, ann.id)
    assert (delivery.status, delivery.attempts) == ("sent", 1)
    assert delivery.sent_at is not None


def test_an_email_is_retried_while_the_mail_server_is_down(db, account, announce, deliver,
                                                           sink, send_emails):
    ann = account("ann")
    announce(ann)
    deliver(outbid(ann.id, price=1550))
    sink.stop()
    send_until(send_emails, lambda: deliveries(db, ann.id)[0].attempts == 1, "a failed attempt")
    [delivery] = deliveries(db, ann.id)
    assert delivery.status == "pending"
    assert delivery.last_error
    assert delivery.next_attempt_at > datetime.now(UTC), "the retry waits for its back-off"
    send_emails()
    assert deliveries(db, ann.id)[0].attempts == 1, "no retry before the back-off has passed"

    sink.start()
    # Skip the back-off rather than sleep through it: the retry is due now.
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE notifications.email_deliveries SET next_attempt_at = now() "
                          "WHERE id = :d"), {"d": delivery.id})
    [mail] = send_until(send_emails, lambda: sink.mails_to(ann.email), "the retried email")
    assert "EUR 15.50" in mail["text"]
    [delivery] = deliveries(db, ann.id)
    assert (delivery.status, delivery.attempts) == ("sent", 2)


class DatabaseCutMidSend(Mailbox):
    """A mailbox whose every arrival ends the sender's open database transactions (those
    holding a delivery taken FOR UPDATE), while the SMTP server has the message and the
    sender is about to record it."""

    def __init__(self, path, db):
        super().__init__(path)
        self.db = db

    def add(self, item: dict) -> None:
        super().add(item)
        with self.db.engine.begin() as conn:
            conn.execute(text(
                "SELECT pg_terminate_backend(a.pid) FROM pg_stat_activity AS a"
                " JOIN pg_locks AS l ON l.pid = a.pid"
                " WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()"
                " AND a.state = 'idle in transaction' AND l.mode = 'RowShareLock'"
                " AND l.relation = 'notifications.email_deliveries'::regclass"))


def test_an_email_the_server_took_while_the_database_went_away_is_not_sent_again(
        db, account, announce, deliver, settings_for, tmp_path):
    ann = account("ann")
    announce(ann)
    deliver(outbid(ann.id, price=1550))
    mailbox = DatabaseCutMidSend(tmp_path / "mail.jsonl", db)
    controller = start_smtp(mailbox)
    settings = settings_for("notification_service", smtp_port=controller.port,
                            smtp_timeout_seconds=5)
    job_db, accepted = build_parts(settings).db, set()
    try:
        with pytest.raises(Exception):  # noqa: B017 (the driver's own error, whichever it is)
            for _ in range(50):  # other tests' emails may come first
                deliver_pending_emails(job_db, settings, accepted=accepted)
        [delivery] = deliveries(db, ann.id)
        assert delivery.status == "pending", "the recording was lost with the connection"
        mailbox.db = None  # the database stays up from here on
        mailbox.add = super(DatabaseCutMidSend, mailbox).add
        wait_for(lambda: deliver_pending_emails(job_db, settings, accepted=accepted) >= 0
                 and deliveries(db, ann.id)[0].status == "sent", 15,
                 message="the email recorded as sent")
    finally:
        controller.stop()
        job_db.engine.dispose()
    [mail] = [m for m in mailbox.items() if ann.email in m["to"]]
    assert mail["copies"] == 1, "the server was not given it a second time"
    assert not accepted


def test_a_mailbox_shows_an_email_sent_again_once(tmp_path):
    mailbox = Mailbox(tmp_path / "mail.jsonl")
    first = {"to": ["ann@example.com"], "subject": "Outbid", "message_id": "<d1@example.com>"}
    mailbox.add(first)
    mailbox.add({**first, "subject": "Outbid (again)"})
    mailbox.add({**first, "message_id": "<d2@example.com>"})
    assert [(m["message_id"], m["subject"], m["copies"]) for m in mailbox.items()] == [
        ("<d2@example.com>", "Outbid", 1), ("<d1@example.com>", "Outbid", 2)]
    assert len(mailbox.received()) == 3


def test_the_sink_takes_each_envelope_address_and_refuses_a_malformed_one_every_time(tmp_path):
    mailbox = Mailbox(tmp_path / "mail.jsonl")
    controller = start_smtp(mailbox)
    try:
        with smtplib.SMTP(controller.hostname, controller.port, timeout=10) as smtp:
            for recipient in ["ann@example.com", "bob@example.com", "ann@example.com"]:
                smtp.sendmail("Auctions <noreply@example.com>", [recipient],
                              f"Subject: to {recipient}\r\n\r\nhello\r\n")
            for _ in range(2):
                assert smtp.docmd("MAIL", "FROM:<ann@example@com>")[0] == 553
                smtp.rset()
    finally:
        controller.stop()
    assert [m["to"] for m in mailbox.received()] == [
        ["ann@example.com"], ["bob@example.com"], ["ann@example.com"]]


def test_an_email_waits_until_the_users_address_is_known(db, account, announce, deliver, sink,
                                                         send_emails):
    ann = account("ann")
    deliver(outbid(ann.id))  # before user.registered reaches notification_service
    send_emails()
    [delivery] = deliveries(db, ann.id)
    assert (delivery.status, delivery.attempts) == ("pending", 0)
    assert sink.mails_to(ann.email) == []
    announce(ann)
    [mail] = send_until(send_emails, lambda: sink.mails_to(ann.email), "the waiting email")
    assert mail["subject"] == "You have been outbid on Brass lamp"
    assert deliveries(db, ann.id)[0].status == "sent"


def test_a_bidding_war_sends_one_outbid_email_until_the_notice_is_read(client, db, account):
    ann = account("ann")
    auction_id = str(uuid.uuid4())
    quiet = notification_consumer(db, PUBLIC_URL, outbid_quiet_seconds=600)
    for seq, price in ((2, 1550), (4, 1800), (6, 2100)):
        quiet(outbid(ann.id, auction_id=auction_id, seq=seq, price=price))
    [notice] = notices(client, ann)
    assert "EUR 21.00" in notice["body"], "the notice shows the latest price"
    assert len(deliveries(db, ann.id)) == 1, "one email for the whole war"
    client.post(f"/api/notifications/{notice['id']}/read", headers=ann.headers)
    quiet(outbid(ann.id, auction_id=auction_id, seq=8, price=2500))
    assert len(notices(client, ann)) == 2 and len(deliveries(db, ann.id)) == 2


def test_outbid_events_applied_together_still_make_one_notice_with_the_latest_price(
        client, db, account):
    ann = account("ann")
    auction_id = str(uuid.uuid4())
    quiet = notification_consumer(db, PUBLIC_URL, outbid_quiet_seconds=600)
    war = [outbid(ann.id, auction_id=auction_id, seq=seq, price=price)
           for seq, price in ((3, 1600), (7, 2300), (5, 1900))]  # 5 arrives late: stale
    assert quiet.handle_batch(war) == [None, None, None]
    [notice] = notices(client, ann)
    assert "EUR 23.00" in notice["body"], "the newest seq wins, a late older one does not"
    assert len(deliveries(db, ann.id)) == 1, "one email for the whole batch"


# ---- mail servers that want TLS and a login ------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 (key file, certificate file): the CA the
    delivery job is told to trust through SMTP_CA_FILE."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test mail server")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("smtp-tls")
    key_file, cert_file = folder / "key.pem", folder / "cert.pem"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file


def secure_sink(path, certificate, implicit_tls: bool) -> MailSink:
    """A sink that offers TLS (STARTTLS, or TLS from the first byte) and accepts mail only
    from the user "mailer" with the password "s3cret", after TLS."""
    from aiosmtpd.smtp import AuthResult

    def authenticate(server, session, envelope, mechanism, auth_data):
        # handled=False: aiosmtpd itself answers (235, or 535 on a refusal).
        return AuthResult(success=(auth_data.login, auth_data.password)
                          == (b"mailer", b"s3cret"), handled=False)

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate[1], certificate[0])
    tls = dict(ssl_context=context, auth_require_tls=False) if implicit_tls else dict(
        tls_context=context, require_starttls=True, auth_require_tls=True)
    return MailSink(path, authenticator=authenticate, auth_required=True,
                    server_hostname="127.0.0.1", **tls)


# aiosmtpd's "require TLS for AUTH" knows STARTTLS only; the implicit-TLS server warns that it
# is off, though its every byte is encrypted.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("security, implicit_tls", [("starttls", False), ("tls", True)])
def test_mail_goes_out_over_tls_with_a_login(db, account, announce, deliver, settings_for,
                                             certificate, tmp_path, security, implicit_tls):
    server = secure_sink(tmp_path / "mail.jsonl", certificate, implicit_tls)
    try:
        ann = account("ann")
        announce(ann)
        deliver(outbid(ann.id, price=1550))
        settings = settings_for("notification_service", smtp_port=server.port,
                                smtp_security=security, smtp_username="mailer",
                                smtp_password="s3cret", smtp_ca_file=certificate[1],
                                smtp_timeout_seconds=5)
        job_db = build_parts(settings).db
        try:
            [mail] = send_until(lambda: deliver_pending_emails(job_db, settings),
                                lambda: server.mails_to(ann.email), f"the email over {security}")
        finally:
            job_db.engine.dispose()
        assert "EUR 15.50" in mail["text"]
        assert deliveries(db, ann.id)[0].status == "sent"
    finally:
        server.stop()


def test_a_refused_login_or_an_unknown_certificate_is_a_failed_attempt_retried_later(
        db, account, announce, deliver, settings_for, certificate, tmp_path):
    server = secure_sink(tmp_path / "mail.jsonl", certificate, implicit_tls=False)
    try:
        ann = account("ann")
        announce(ann)
        deliver(outbid(ann.id, price=1550))

        def one_attempt(**changes) -> None:
            settings = settings_for("notification_service", smtp_port=server.port,
                                    smtp_security="starttls", smtp_username="mailer",
                                    smtp_timeout_seconds=5, **changes)
            job_db, attempts = build_parts(settings).db, deliveries(db, ann.id)[0].attempts
            try:
                send_until(lambda: deliver_pending_emails(job_db, settings),
                           lambda: deliveries(db, ann.id)[0].attempts > attempts,
                           "a failed attempt")
            finally:
                job_db.engine.dispose()

        for changes, complaint in (({"smtp_password": "wrong", "smtp_ca_file": certificate[1]},
                                    "Authentication"),
                                   ({"smtp_password": "s3cret"}, "CERTIFICATE_VERIFY_FAILED")):
            one_attempt(**changes)
            [delivery] = deliveries(db, ann.id)
            assert delivery.status == "pending", "kept for a retry, not lost"
            assert complaint in delivery.last_error
            with db.engine.begin() as conn:  # due again now, rather than after its back-off
                conn.execute(text("UPDATE notifications.email_deliveries "
                                  "SET next_attempt_at = now() WHERE id = :d"), {"d": delivery.id})
        assert server.mails_to(ann.email) == []
    finally:
        server.stop()


@pytest.mark.parametrize("changes", [
    {"smtp_username": "mailer", "smtp_password": "s3cret"},  # a password in clear text
    {"smtp_security": "starttls", "smtp_username": "mailer"},  # half the credentials
])
def test_settings_refuse_credentials_without_tls_or_without_a_password(changes):
    from pydantic import ValidationError

    from notification_service.settings import NotificationSettings

    with pytest.raises(ValidationError):
        NotificationSettings(database_url="postgresql://unused", **changes)


# ---- which notifications come by email ------------------------------------------------------


def test_every_kind_comes_by_email_until_the_user_turns_it_off(client, account):
    ann, bob = account("ann"), account("bob")
    everything = {"outbid": True, "won": True, "lost": True, "listing_ended": True,
                  "ending_soon": True}
    assert client.get("/api/notifications/preferences", headers=ann.headers).get_json() == {
        "email": everything}
    answer = client.put("/api/notifications/preferences", headers=ann.headers,
                        json={"email": {"outbid": False}})
    assert answer.status_code == 200
    assert answer.get_json()["email"] == {**everything, "outbid": False}
    again = client.put("/api/notifications/preferences", headers=ann.headers,
                       json={"email": {"ending_soon": False}})
    assert again.get_json()["email"] == {**everything, "outbid": False, "ending_soon": False}, (
        "a kind left out keeps its choice")
    assert client.get("/api/notifications/preferences", headers=bob.headers).get_json() == {
        "email": everything}, "one user's choice is theirs only"


@pytest.mark.parametrize("body", [
    {"email": {"outbid": "no"}}, {"email": {"birthday": False}}, {"email": []}, {},
    {"email": {"outbid": None, "won": 0}},
])
def test_a_bad_preference_is_refused_and_changes_nothing(client, account, body):
    ann = account("ann")
    answer = client.put("/api/notifications/preferences", headers=ann.headers, json=body)
    assert answer.status_code == 422
    assert answer.get_json()["error"]["code"] == "validation_error"
    assert all(client.get("/api/notifications/preferences",
                          headers=ann.headers).get_json()["email"].values())


def test_preferences_need_a_token(client):
    assert client.get("/api/notifications/preferences").status_code == 401
    assert client.put("/api/notifications/preferences",
                      json={"email": {"outbid": False}}).status_code == 401


def test_a_kind_turned_off_is_still_shown_in_the_app_but_not_emailed(db, client, account,
                                                                     announce, deliver):
    ann = account("ann")
    announce(ann)
    client.put("/api/notifications/preferences", headers=ann.headers,
               json={"email": {"outbid": False}})
    deliver(outbid(ann.id, title="Quiet lamp"))
    [notice] = notices(client, ann)
    assert notice["title"] == "You have been outbid on Quiet lamp"
    assert deliveries(db, ann.id) == [], "no email for a kind turned off"
    client.put("/api/notifications/preferences", headers=ann.headers,
               json={"email": {"outbid": True}})
    deliver(outbid(ann.id, title="Loud lamp"))
    assert len(deliveries(db, ann.id)) == 1, "turned on again, the next one is emailed"


def test_two_workers_coalescing_one_bidding_war_send_one_email(client, db, account):
    ann = account("ann")
    auction_id = str(uuid.uuid4())
    workers = [notification_consumer(db, PUBLIC_URL, outbid_quiet_seconds=600)
               for _ in range(2)]
    war = [outbid(ann.id, auction_id=auction_id, seq=seq, price=1000 + 100 * seq)
           for seq in range(1, 17)]
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda pair: workers[pair[0] % 2](pair[1]), enumerate(war)))
    [notice] = notices(client, ann)
    assert "EUR 26.00" in notice["body"], "the newest price, whichever worker applied it"
    assert len(deliveries(db, ann.id)) == 1


def test_a_mailbox_reads_what_arrived_raw_whatever_another_process_did_to_its_file(tmp_path):
    """The sink keeps messages raw and reads them when looked at; a reader that read the file
    before still shows exactly what the file holds after another process cleared and refilled
    it (a second ``Mailbox`` on the same file stands for that process)."""
    path = tmp_path / "mail.jsonl"
    reader, other = Mailbox(path), Mailbox(path)

    def raw(n: int) -> bytes:
        return build_email("noreply@example.com", f"u{n}@example.com", f"Subject {n}",
                           f"Text {n}\n", f"<p>Html {n}</p>", delivery_id=f"d{n}").as_bytes()

    for n in range(3):
        other.add_raw(raw(n), [f"u{n}@example.com"])
    assert [m["subject"] for m in reader.items()] == ["Subject 2", "Subject 1", "Subject 0"]
    other.clear()
    for n in range(3, 7):
        other.add_raw(raw(n), [f"u{n}@example.com"])
    shown = reader.items()
    assert [m["subject"] for m in shown] == [f"Subject {n}" for n in (6, 5, 4, 3)]
    assert shown[0]["text"] == "Text 6\n" and shown[0]["to"] == ["u6@example.com"]
