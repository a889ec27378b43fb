"""gunicorn settings shared by every web process (``-c python:auction_common.gunicorn_conf``).

gevent workers by default (``auction_common.gunicorn_worker.Worker``, gevent's own WSGI server
under gunicorn; ``WEB_WORKER_CLASS=gevent`` gives gunicorn's own gevent worker): a request
waiting on PostgreSQL yields instead of holding a thread, and the one holding a hot auction's
row lock is not preempted by CPU-bound neighbours every few milliseconds the way OS threads
contending for the GIL are (measured in bench/bid_path). psycopg2 cooperates with gevent
through psycogreen.
"""

import gc
import os
import tempfile

# Several workers share one /metrics: each writes its samples to this folder (set before any
# worker imports prometheus_client) and the endpoint adds them up.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="prometheus-")

bind = os.environ.get("BIND", "127.0.0.1:8000")
worker_class = os.environ.get("WEB_WORKER_CLASS", "auction_common.gunicorn_worker.Worker")
#: Whether the workers run on gevent (and so psycopg2 must yield to it).
ON_GEVENT = worker_class.startswith(("gevent", "auction_common.gunicorn_worker"))


def default_workers(cores: int | None = None) -> int:
    """Web processes per service when ``WEB_CONCURRENCY`` is not set: half the cores, at least
    one. A gevent worker serves hundreds of requests at once on one core, and on a machine
    that runs the whole stack the web is one of a dozen process kinds sharing the cores; a
    process more only splits bidding's groups (bids decided together in one transaction are
    grouped per process) and adds context switches (16 bidders over 1,000 auctions on 2 cores:
    one process took more bids a second than two, with less CPU per bid; README,
    Performance)."""
    return max(1, (cores if cores is not None else os.cpu_count() or 1) // 2)


workers = int(os.environ.get("WEB_CONCURRENCY") or default_workers())
threads = int(os.environ.get("WEB_THREADS", "8"))  # used by the gthread worker class only
worker_connections = int(os.environ.get("WEB_WORKER_CONNECTIONS", "256"))
accesslog = os.environ.get("ACCESS_LOG") or None
graceful_timeout = 10
# Longer than the gateway keeps idle upstream connections (nginx: 60 s): otherwise a worker
# closes a connection just as nginx reuses it, and a POST gets a 502.
keepalive = int(os.environ.get("WEB_KEEPALIVE", "75"))


def post_fork(server, worker) -> None:
    """Make psycopg2 yield to gevent while it waits on the database."""
    if ON_GEVENT:
        from psycogreen.gevent import patch_psycopg

        patch_psycopg()


def child_exit(server, worker) -> None:
    """Forget a dead worker's live gauges."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker) -> None:
    """Freeze what start-up allocated so the collector stops rescanning it (fewer p99 spikes)."""
    gc.freeze()
