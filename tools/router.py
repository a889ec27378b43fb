"""A WSGI router sending each request to the app that owns its path prefix (embedded mode).

Unlike ``DispatcherMiddleware`` it leaves the path untouched: every service's routes carry
their full public path (``/api/bids/...``), exactly as behind the gateway.
"""

from __future__ import annotations


class PrefixRouter:
    """Route by the longest matching path prefix; ``default`` takes everything else."""

    def __init__(self, routes: dict[str, object], default):
        self.routes = sorted(routes.items(), key=lambda item: -len(item[0]))
        self.default = default

    def app_for(self, path: str):
        """The WSGI app serving ``path``."""
        for prefix, app in self.routes:
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return app
        return self.default

    def __call__(self, environ, start_response):
        return self.app_for(environ.get("PATH_INFO", "/"))(environ, start_response)
