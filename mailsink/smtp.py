"""The SMTP side of the sink (aiosmtpd), storing each message in a :class:`Mailbox`."""

from __future__ import annotations

from aiosmtpd.controller import Controller

from auction_common.ports import free_port

from .store import Mailbox


class _StoreHandler:
    def __init__(self, mailbox: Mailbox):
        self.mailbox = mailbox

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.mailbox.add_raw(envelope.original_content or envelope.content,
                             list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


def start_smtp(mailbox: Mailbox, host: str = "127.0.0.1", port: int = 0,
               **options) -> Controller:
    """Start an SMTP server in a background thread; ``port=0`` picks a free port
    (read it back from ``controller.port``). ``options`` go to aiosmtpd's Controller (TLS,
    authentication)."""
    controller = Controller(_StoreHandler(mailbox), hostname=host, port=port or free_port(host),
                            **options)
    controller.start()
    return controller
