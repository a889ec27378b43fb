"""What an email the platform sends says, read back as a mail client reads it (the ``email``
package's modern parser): every header and both parts survive the way they are written."""

from __future__ import annotations

from email import message_from_bytes, policy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notification_service.delivery import _POLICY, Unsubscribe, build_email


def _received(message) -> tuple:
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    return (parsed, parsed.get_body(("plain",)).get_content(),
            parsed.get_body(("html",)).get_content())


@pytest.mark.parametrize(("sender", "subject"), [
    ("Auctions <noreply@auction.test>", "You were outbid on Tin robot"),
    ("Enchères Dupont <noreply@encheres.test>", "Vous êtes dépassé sur « Café crème »"),
    ("noreply@auction.test", "A long subject that has to be folded over several lines when "
                             "it travels, " * 3),
    ("Auktionen <noreply@auction.test>", "Überboten: " + "Schöne Vase " * 12),
])
def test_headers_and_text_arrive_as_written(sender, subject):
    text = ("Hello André,\nthe price is now EUR 15.50.\n" + "long line " * 40 + "\n"
            "--=_ a line like a boundary =_\n")
    html = "<p>Hello Andr&eacute;, <b>Tom &amp; Jerry</b></p>\n" + "<i>x</i>" * 150
    parsed, plain, rich = _received(build_email(sender, "ann@example.test", subject, text,
                                                html, delivery_id="d-1"))
    assert str(parsed["Subject"]) == subject
    assert str(parsed["From"]) == sender
    assert str(parsed["To"]) == "ann@example.test"
    assert str(parsed["Message-ID"]) == f"<d-1@{sender.rpartition('@')[2].strip('>')}>"
    assert plain == text
    assert rich == html
    assert all(len(line) <= 998 for line in parsed.as_bytes().splitlines())


def test_the_unsubscribe_link_and_one_click_headers_come_with_it():
    links = Unsubscribe.of("https://auction.test/", "tok-1")
    parsed, plain, rich = _received(build_email(
        "noreply@auction.test", "ann@example.test", "Outbid", "Hello\n", "<p>Hello</p>", links))
    # A long one is folded onto a line of its own: the whitespace before it means nothing.
    assert str(parsed["List-Unsubscribe"]).strip() == (
        "<https://auction.test/api/notifications/unsubscribe?token=tok-1>")
    assert str(parsed["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    assert plain.endswith("No more emails like this one: "
                          "https://auction.test/unsubscribe?token=tok-1\n")
    assert 'href="https://auction.test/unsubscribe?token=tok-1"' in rich


def test_a_header_value_never_spans_lines_it_was_not_folded_to():
    parsed, _, _ = _received(build_email(
        "noreply@auction.test", "ann@example.test", "Outbid\nBcc: eve@example.test", "x", "x"))
    assert parsed["Bcc"] is None
    assert str(parsed["Subject"]) == "Outbid Bcc: eve@example.test"


_WORD = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=30)


@given(name=st.sampled_from(["Subject", "From", "To", "Message-ID", "List-Unsubscribe",
                             "Content-Type", "X-A-Rather-Long-Header-Name"]),
       value=st.one_of(st.lists(_WORD, min_size=1, max_size=12).map(" ".join), st.text()))
def test_a_header_is_written_exactly_as_the_standard_policy_writes_it(name, value):
    """The mail policy's shortcut for one-line ASCII headers changes no byte of any header."""
    assert _POLICY.fold_binary(name, value) == policy.compat32.fold_binary(name, value)
