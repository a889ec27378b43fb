"""The SMTP side of the sink (aiosmtpd), storing each message in a :class:`Mailbox`."""

from __future__ import annotations

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from auction_common.ports import free_port

from .store import Mailbox


class _StoreHandler:
    def __init__(self, mailbox: Mailbox):
        self.mailbox = mailbox

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.mailbox.add_raw(envelope.original_content or envelope.content,
                             list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


class _Session(SMTP):
    """aiosmtpd's SMTP session, reading each MAIL FROM / RCPT TO argument once per distinct
    text: aiosmtpd's own reading defines a ``typing.Protocol`` class on every call and parses
    the address with the ``email`` package's header parser (~40% of the sink's CPU per
    message in a bidding war, py-spy), while a sink sees the same few addresses again and
    again. The answer for a text (the address and the rest, or ``(None, None)`` for one it
    refuses) is aiosmtpd's own."""

    #: (argument, local part limit) -> aiosmtpd's answer; at most _KNOWN_LIMIT of them.
    _known: dict[tuple[str, int], tuple] = {}
    _KNOWN_LIMIT = 10_000

    def _getaddr(self, arg):
        key = (arg, self.local_part_limit)
        answer = self._known.get(key)
        if answer is None:
            answer = super()._getaddr(arg)
            if len(self._known) < self._KNOWN_LIMIT:
                self._known[key] = answer
        return answer


class _Controller(Controller):
    def factory(self):
        return _Session(self.handler, **self.SMTP_kwargs)


def start_smtp(mailbox: Mailbox, host: str = "127.0.0.1", port: int = 0,
               **options) -> Controller:
    """Start an SMTP server in a background thread; ``port=0`` picks a free port
    (read it back from ``controller.port``). ``options`` go to aiosmtpd's Controller (TLS,
    authentication)."""
    controller = _Controller(_StoreHandler(mailbox), hostname=host,
                             port=port or free_port(host), **options)
    controller.start()
    return controller
