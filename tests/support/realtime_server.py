"""``python -m tests.support.realtime_server PORT``: the real-time process's Socket.IO server
(gevent, its broadcaster) without a bus, for tests that drive its fan-out directly.

``POST /fan-out {"auction_id", "count", "size"}`` hands ``count`` ``auction.extended`` events
(``seq`` 1..count, each with ``size`` characters of padding) to ``fan_out`` in one go, as the
bus's consumer does with a batch (with ``"first_through_the_queue": true`` the first goes by
``socketio.emit``, as a ping or an answer does); ``/metrics`` counts the recipients by how
each was handed over.
"""

from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402

from flask import Flask, request  # noqa: E402

from auction_common.health import health_blueprint  # noqa: E402
from bidding_service.realtime.fanout import attach_realtime, fan_out  # noqa: E402


def main(port: int) -> None:
    """Serve on 127.0.0.1:``port`` until killed."""
    app = Flask("realtime_test_server")
    app.register_blueprint(health_blueprint("realtime_test_server", {}))
    socketio = attach_realtime(app, async_mode="gevent", expiry_check_seconds=None)

    @app.post("/fan-out")
    def fan_out_events():
        body = request.get_json()
        for seq in range(1, int(body["count"]) + 1):
            data = {"auction_id": body["auction_id"], "seq": seq,
                    "padding": "x" * int(body["size"])}
            if seq == 1 and body.get("first_through_the_queue"):
                # Engine.IO's own path: queued for each connection's writer, not yet written
                # when the next event comes (nothing here waits in between).
                socketio.emit("auction.extended", data, to=f"auction:{body['auction_id']}")
            else:
                fan_out(socketio, {"type": "auction.extended", "data": data})
        return {"ok": True}

    socketio.run(app, host="127.0.0.1", port=port, log_output=False)


main(int(sys.argv[1]))
