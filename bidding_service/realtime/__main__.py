"""``python -m bidding_service.realtime``: the Socket.IO server (gevent), one per instance."""

from gevent import monkey

monkey.patch_all()

import gc  # noqa: E402
import logging  # noqa: E402

from flask import Flask  # noqa: E402

from auction_common.auth import init_jwt  # noqa: E402
from auction_common.bus import create_bus  # noqa: E402
from auction_common.health import health_blueprint  # noqa: E402
from auction_common.logs import configure_logging  # noqa: E402
from bidding_service.realtime.fanout import attach_realtime, realtime_subscription  # noqa: E402
from bidding_service.settings import load  # noqa: E402

log = logging.getLogger("bidding_service.realtime")


def main() -> None:
    """Serve Socket.IO clients and fan out this instance's private queue of bid events."""
    settings = load()
    configure_logging("bidding_realtime", settings.log_level, settings.log_json)
    app = Flask("bidding_realtime")
    init_jwt(app, settings)
    bus = create_bus(settings)
    # Ready once its private queue is bound and consumed: a client sent here before would
    # miss every event published meanwhile, and nothing would tell it to catch up.
    app.register_blueprint(health_blueprint(
        "bidding_realtime", {"broker": bus.ping, "events": bus.check_consuming}))
    socketio = attach_realtime(app, async_mode="gevent")
    bus.subscribe(realtime_subscription(socketio))
    bus.start()
    gc.freeze()  # start-up objects are never garbage: keep the collector off them (p99)
    # A fan-out allocates a timer per recipient socket, nearly all freed within the burst. At
    # the default threshold (700) each bid to 2,500 sockets ran a few young collections, which
    # promoted the timers still in flight, so that about every 20 bids a full collection
    # walked every connection's objects (~150 ms with 2,500 sockets, each client waiting): ~9 µs
    # of GC per delivery and the fan-out's worst latencies. Cycles are still collected, once
    # 50,000 more objects are alive than were freed.
    gc.set_threshold(50_000, 10, 10)
    log.info("realtime listening", extra={"port": settings.port})
    socketio.run(app, host=settings.host, port=settings.port, log_output=False)


main()
