"""``/mailbox`` and ``/api/mailbox``: read the caught mail in a browser or as JSON.

A development tool: it answers clients on this machine only (loopback), whatever interface the
process listens on, since the mail holds password-reset links and everybody's notifications.
"""

from __future__ import annotations

from ipaddress import ip_address

from flask import Blueprint, jsonify, render_template_string, request

from auction_common.problems import Problem

from .store import Mailbox

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Mailbox</title>
<style>
 body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; color: #222; }
 article { border: 1px solid #ddd; border-radius: 8px; padding: 1rem; margin: 1rem 0; }
 .meta { color: #666; font-size: .9rem; } iframe { width: 100%; border: 0; min-height: 8rem; }
</style></head>
<body><h1>Mailbox</h1>
<p class="meta">Every email the platform sent, newest first (caught locally, never delivered).</p>
{% for mail in items %}
<article class="mail">
 <h2 class="subject">{{ mail.subject }}</h2>
 <p class="meta">To {{ mail.to | join(", ") }} · {{ mail.received_at }}</p>
 {% if mail.html %}<iframe sandbox srcdoc="{{ mail.html }}"></iframe>
 {% else %}<pre>{{ mail.text }}</pre>{% endif %}
</article>
{% else %}<p>No mail yet.</p>{% endfor %}
</body></html>"""


def mailbox_blueprint(mailbox: Mailbox) -> Blueprint:
    """Routes showing ``mailbox``."""
    bp = Blueprint("mailbox", __name__)

    @bp.before_request
    def _this_machine_only():
        if not is_loopback(request.remote_addr):
            raise Problem(404, "not_found", "There is nothing here.")

    @bp.get("/api/mailbox")
    def mailbox_json():
        return jsonify({"items": mailbox.items()})

    @bp.delete("/api/mailbox")
    def mailbox_clear():
        mailbox.clear()
        return "", 204

    @bp.get("/mailbox")
    def mailbox_page():
        return render_template_string(PAGE, items=mailbox.items())

    return bp


def is_loopback(address: str | None) -> bool:
    """Whether ``address`` (a socket's peer) is this machine."""
    try:
        return ip_address(address or "").is_loopback
    except ValueError:
        return False
