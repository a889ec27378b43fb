"""Which event becomes which notification: the wiring of notification_service's consumer.

The use cases live in ``handlers`` (contacts), ``outbid`` (outbid notices), ``endings``
(after the hammer) and ``watches`` (reminders); an event type may run several of them, in the
order listed, in one transaction."""

from __future__ import annotations

from functools import partial

from auction_common.consumer import IdempotentConsumer, applies_in_batches
from auction_common.db import Database

from .endings import send_ending_notices
from .handlers import remember_contact
from .outbid import send_outbid_notices
from .watches import follow_end, forget_auction, start_watching, stop_watching


def notification_consumer(db: Database, public_url: str,
                          outbid_quiet_seconds: int = 0) -> IdempotentConsumer:
    """The consumer of every event that becomes a notification."""
    return IdempotentConsumer(db, "notification_service.notify", {
        "user.registered": remember_contact,
        "user.updated": remember_contact,
        # A run of them at once: a bidding war spread over many auctions brings dozens.
        "bid.outbid": applies_in_batches(partial(send_outbid_notices, public_url=public_url,
                                                 quiet_seconds=outbid_quiet_seconds)),
        # Everyone's notices first; then watchers need no reminder of an ended auction.
        "auction.ended": [partial(send_ending_notices, public_url=public_url), forget_auction],
        "auction.watched": start_watching,
        "auction.unwatched": stop_watching,
        "auction.extended": follow_end,
        "auction.updated": follow_end,
        "auction.cancelled": forget_auction,
    })
