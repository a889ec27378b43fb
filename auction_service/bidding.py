"""The catalog's line to bidding_service, the owner of the bids.

Whether a seller may still withdraw a listing or change its terms depends on bids, so the
catalog asks bidding, which decides under the auction's row lock, before it saves the change
(see ``handlers.update_auction`` and ``handlers.cancel_auction``). The seller's answer is
bidding's decision: a refusal comes back as bidding gave it (409 ``listing_locked``), and when
bidding cannot be reached the seller gets 503 ``bidding_unavailable``, never a guess.

Two ways to reach it, same requests: over HTTP (``BIDDING_URL``, every distributed shape), or
by calling bidding's WSGI app in this process (the embedded mode, and service tests).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable

import requests
from werkzeug.test import Client

from auction_common.problems import Problem

log = logging.getLogger(__name__)

#: (method, path, JSON body, headers) -> (status, JSON answer); raises OSError-like errors when
#: bidding cannot be reached.
Transport = Callable[[str, str, dict, dict], tuple[int, dict]]
RETRY_AFTER_SECONDS = 2


class Unreachable(Exception):
    """bidding_service did not answer."""


def http_transport(base_url: str, timeout: float = 5.0) -> Transport:
    """Requests to bidding_service's web processes at ``base_url``."""
    session = requests.Session()
    base = base_url.rstrip("/")

    def call(method: str, path: str, body: dict, headers: dict) -> tuple[int, dict]:
        try:
            response = session.request(method, base + path, json=body, headers=headers,
                                       timeout=timeout)
        except requests.RequestException as exc:
            raise Unreachable(str(exc)) from exc
        try:
            return response.status_code, response.json()
        except ValueError:
            raise Unreachable(f"bidding answered {response.status_code} without JSON") from None

    return call


def wsgi_transport(app) -> Transport:
    """Calls to bidding_service's WSGI app in this process (the embedded mode, tests)."""
    client = Client(app)

    def call(method: str, path: str, body: dict, headers: dict) -> tuple[int, dict]:
        response = client.open(path, method=method, data=json.dumps(body),
                               headers={**headers, "Content-Type": "application/json"})
        try:
            return response.status_code, json.loads(response.get_data())
        except ValueError:
            raise Unreachable(f"bidding answered {response.status_code} without JSON") from None

    return call


class BiddingGate:
    """Asks bidding_service to decide a seller's change that bids decide."""

    def __init__(self, transport: Transport | None):
        self._transport = transport

    def change_terms(self, auction_id: uuid.UUID, authorization: str, listing: dict,
                     version: int) -> dict:
        """New terms in force from now on, or the refusal (409) raised as a Problem."""
        return self._ask("PUT", f"/internal/auctions/{auction_id}/terms", authorization,
                         listing, version)

    def withdraw(self, auction_id: uuid.UUID, authorization: str, listing: dict,
                 version: int) -> dict:
        """The listing closed for bids, or the refusal (409) raised as a Problem."""
        return self._ask("POST", f"/internal/auctions/{auction_id}/withdraw", authorization,
                         listing, version)

    def _ask(self, method: str, path: str, authorization: str, listing: dict,
             version: int) -> dict:
        if self._transport is None:
            raise _unavailable("no BIDDING_URL is configured")
        try:
            status, answer = self._transport(method, path, {"listing": listing,
                                                            "version": version},
                                             {"Authorization": authorization})
        except Unreachable as exc:
            log.warning("bidding_service unreachable", extra={"path": path, "error": str(exc)})
            raise _unavailable(str(exc)) from None
        if 200 <= status < 300:
            return answer
        error = answer.get("error") if isinstance(answer, dict) else None
        if status in (403, 409) and error:
            raise Problem(status, error["code"], error["message"], error.get("details"))
        log.warning("bidding_service refused the catalog's call",
                    extra={"path": path, "status": status, "answer": answer})
        raise _unavailable(f"bidding answered {status}")


def _unavailable(reason: str) -> Problem:
    return Problem(503, "bidding_unavailable",
                   "Bidding could not confirm the change just now; nothing was changed. "
                   "Try again in a moment.", {"reason": reason},
                   {"Retry-After": str(RETRY_AFTER_SECONDS)})
