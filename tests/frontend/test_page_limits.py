"""The Sell and Edit forms tell the browser the catalog's limits (``maxlength``, ``max``) so
that a seller learns them while typing; the catalog owns them and checks them again. The
frontend cannot import the catalog at run time (another service), so these copies in the
templates are pinned to it here."""

from __future__ import annotations

import re

from auction_service import domain


def _attributes(html: str, element_id: str) -> dict[str, str]:
    tag = re.search(rf'<(?:input|textarea)\b[^>]*\bid="{element_id}"[^>]*>', html)
    assert tag, f"no field #{element_id}"
    return dict(re.findall(r'([\w-]+)="([^"]*)"', tag.group(0)))


def test_the_listing_fields_carry_the_catalog_s_limits(app):
    with app.test_request_context():
        fields = app.jinja_env.get_template("_listing_fields.html").module.listing_fields
        html = str(fields({}, {}, [], []))
    assert _attributes(html, "title")["maxlength"] == str(domain.TITLE_MAX)
    assert _attributes(html, "description")["maxlength"] == str(domain.DESCRIPTION_MAX)
    window = _attributes(html, "anti_sniping_seconds")
    assert (window["min"], window["max"]) == ("0", str(domain.ANTI_SNIPING_MAX))


def test_an_addition_after_the_first_bid_carries_the_catalog_s_limit(app):
    source = app.jinja_env.loader.get_source(app.jinja_env, "edit.html")[0]
    assert _attributes(source, "addition")["maxlength"] == str(domain.ADDITION_MAX)
