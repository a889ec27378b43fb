"""The real-time process type: Socket.IO rooms fed by bid events (see ``fanout``).

Run it with ``python -m bidding_service.realtime``; this package's ``__init__`` stays empty so
that ``__main__`` can patch the standard library for gevent before anything else is imported.
"""
