"""Reading the catalog: search, browse orders, keyset cursors, photos and watchlists (SQL).

Every order ends in ``id`` so that it is total, and a cursor carries the sort key and the id of
the last row it returned: the next page starts strictly after that row, whatever was listed
meanwhile, so paging neither repeats nor skips a listing.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Float,
    Select,
    Text,
    and_,
    case,
    cast,
    func,
    literal,
    literal_column,
    or_,
    select,
    tuple_,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from auction_common.db import plan_this_transaction
from auction_common.problems import Problem

from .domain import split_search
from .models import SEARCH_CONFIG, Auction, AuctionImage, Watch

#: Sort name -> (key, descending). ``relevance`` only with ``q`` (and then the default).
SORTS: dict[str, tuple[Any, bool]] = {
    "newly_listed": (Auction.created_at, True),
    "ending_soon": (Auction.ends_at, False),
    "price_asc": (Auction.current_price, False),
    "price_desc": (Auction.current_price, True),
    "most_bids": (Auction.bid_count, True),
    "relevance": (None, True),
}
_KEY_TYPES = {"newly_listed": "time", "ending_soon": "time", "price_asc": "int",
              "price_desc": "int", "most_bids": "int", "relevance": "float", "watched": "time"}


@dataclass(frozen=True)
class Filters:
    """What a search or browse asks for (all optional)."""

    q: str | None = None
    category: str | None = None
    status: str | None = None
    seller_id: uuid.UUID | None = None
    currency: str | None = None
    min_price: int | None = None
    max_price: int | None = None
    condition: str | None = None


#: A search counts its matches up to this many (a count is a scan of every match).
COUNT_CAP = 1000


def cursor_error() -> Problem:
    return Problem(422, "validation_error", "The cursor is not valid.",
                   [{"field": "cursor", "message": "not a cursor from this API for this sort"}])


def encode_cursor(sort: str, key: Any, ident: uuid.UUID) -> str:
    """An opaque cursor just after the row with sort key ``key`` and id ``ident``."""
    value = key.isoformat() if isinstance(key, datetime) else key
    raw = json.dumps({"s": sort, "k": value, "i": str(ident)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[Any, uuid.UUID]:
    """The (key, id) a cursor points after; 422 naming ``cursor`` when it is not one of ours
    or was made for another sort. A cursor is the client's text: every field is checked for
    its type and range, so that a forged one never reaches PostgreSQL as something it refuses
    (a time is normalised to UTC, whose offsets PostgreSQL always accepts)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        if not isinstance(data, dict) or data.get("s") != sort:
            raise ValueError
        key, ident, kind = data["k"], data["i"], _KEY_TYPES[sort]
        if not isinstance(ident, str):
            raise ValueError
        if kind == "time":
            if not isinstance(key, str):
                raise ValueError
            key = datetime.fromisoformat(key)
            if key.tzinfo is None:
                raise ValueError
            key = key.astimezone(UTC)
        elif kind == "int" and (type(key) is not int or not -2**63 <= key < 2**63):
            raise ValueError
        elif kind == "float" and (type(key) not in (int, float) or not math.isfinite(key)):
            raise ValueError
        return key, uuid.UUID(ident)
    except (ValueError, TypeError, KeyError, UnicodeDecodeError, binascii.Error,
            OverflowError, RecursionError):
        raise cursor_error() from None


def text_query(q: str) -> ColumnElement | None:
    """A tsquery for what the user typed: web-search syntax ("quoted phrases", -not, or),
    with the word being typed matched as a prefix. ``None`` when nothing is searchable."""
    config = literal_column(f"'{SEARCH_CONFIG}'::regconfig")
    terms = split_search(q)
    parts = []
    if terms.complete.strip():
        parts.append(func.websearch_to_tsquery(config, terms.complete))
    if terms.prefix:
        parts.append(func.to_tsquery(config, terms.prefix + ":*"))
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return parts[0].op("||" if terms.either else "&&")(parts[1])


def status_condition(status: str, now: datetime) -> ColumnElement:
    """The rows whose :func:`~auction_service.domain.public_status` is ``status`` at ``now``."""
    open_ = and_(Auction.cancelled_at.is_(None), Auction.outcome.is_(None))
    return {
        "open": and_(open_, Auction.ends_at > now),
        "live": and_(open_, Auction.starts_at <= now, Auction.ends_at > now),
        "scheduled": and_(open_, Auction.starts_at > now, Auction.ends_at > now),
        "ended": and_(Auction.cancelled_at.is_(None),
                      or_(Auction.outcome.is_not(None), Auction.ends_at <= now)),
        "cancelled": Auction.cancelled_at.is_not(None),
    }[status]


@dataclass(frozen=True)
class SearchPlan:
    """A page's query, and how to read the sort key of a row for the next cursor."""

    statement: Select
    sort: str
    key_name: str
    #: Planner settings for the query's transaction (see :data:`TEXT_SEARCH_PLANNER`).
    planner: dict[str, str]
    #: How many listings match, whatever the page (for benchmarks and diagnostics).
    count_statement: Select
    #: How many listings match, up to COUNT_CAP + 1 (what a search page says).
    capped_count_statement: Select
    #: Relevance: the query over every match, run when ``statement`` (the title matches
    #: only) returns less than a full page.
    fallback: Select | None = None
    #: A text search: how many listings match by their title, up to COUNT_CAP + 1; when more
    #: than COUNT_CAP, so do more than COUNT_CAP of all matches, and that count is not run.
    capped_title_count_statement: Select | None = None
    #: ``statement``'s rows carry ``titles_matched``, how many listings match by their title
    #: (counted over what it ranks anyway), and ``capped_title_count_statement`` is not run.
    counts_titles: bool = False


#: With a text search, prefer the GIN index to a sequential scan: the planner prices a
#: tsvector match per row far too low (measured on 100,000 listings: a word in 14% of them
#: takes 70-80 ms by seq scan, 20 ms by bitmap scan; bench/search.py). It stays a preference,
#: not a ban: other indexes still compete, and without an index a seq scan still runs.
TEXT_SEARCH_PLANNER = {"enable_seqscan": "off"}


def _conditions(filters: Filters, sort: str, now: datetime) -> list[ColumnElement]:
    conditions = []
    if filters.category:
        conditions.append(Auction.category == filters.category)
    if filters.seller_id:
        conditions.append(Auction.seller_id == filters.seller_id)
    if filters.currency:
        conditions.append(Auction.currency == filters.currency)
    if filters.condition:
        conditions.append(Auction.condition == filters.condition)
    if filters.min_price is not None:
        conditions.append(Auction.current_price >= filters.min_price)
    if filters.max_price is not None:
        conditions.append(Auction.current_price <= filters.max_price)
    if filters.status:
        conditions.append(status_condition(filters.status, now))
    elif sort == "ending_soon":
        conditions += [Auction.cancelled_at.is_(None), Auction.outcome.is_(None),
                       Auction.ends_at > now]
    return conditions


def _after(key, ident, cursor: str | None, sort: str, descending: bool) -> list[ColumnElement]:
    """The keyset condition: rows strictly after the cursor's (key, id) in the sort order."""
    if not cursor:
        return []
    after_key, after_id = decode_cursor(cursor, sort)
    position, boundary = tuple_(key, ident), tuple_(after_key, after_id)
    return [position < boundary if descending else position > boundary]


def plan_search(filters: Filters, sort: str, limit: int, cursor: str | None,
                now: datetime) -> SearchPlan | None:
    """The query of one page of listings matching ``filters`` in ``sort`` order (one row more
    than ``limit``, to know whether another page follows); ``None`` when ``q`` has nothing
    searchable in it.

    ``ending_soon`` without a status shows listings still to end (live or scheduled):
    soonest-ending among long-finished ones is no use to anyone."""
    key, descending = SORTS[sort]
    conditions, planner = _conditions(filters, sort, now), {}
    titles_counted = None
    if filters.q is not None:
        tsquery = text_query(filters.q)
        if tsquery is None:
            return None
        text_match = Auction.search_vector.op("@@")(tsquery)
        by_title = [*conditions, Auction.title_vector.op("@@")(tsquery)]
        conditions.append(text_match)
        planner = TEXT_SEARCH_PLANNER
        titles_counted = _capped_count([*by_title, _whole_search_matches(
            tsquery, text_match)])
    counted = select(func.count()).select_from(Auction).where(*conditions)
    capped = _capped_count(conditions)
    if sort != "relevance":
        order = (key.desc(), Auction.id.desc()) if descending else (key.asc(), Auction.id.asc())
        statement = (select(Auction)
                     .where(*conditions, *_after(key, Auction.id, cursor, sort, descending))
                     .order_by(*order).limit(limit + 1))
        return SearchPlan(statement, sort, key.key, planner, counted, capped,
                          capped_title_count_statement=titles_counted)
    # Relevance: the listings whose title matches come first, then the others, each group by
    # ts_rank (see TITLE_TIER). The page is first looked for among the title matches alone,
    # found through their own index and ranked without reading the other matches; only when
    # they cannot fill it (a narrow search, or paging past them) is every match ranked.
    rank = cast(func.ts_rank(Auction.search_vector, tsquery), Float(precision=53))
    title_match = Auction.title_vector.op("@@")(tsquery)
    everything = _relevance_page(
        case((title_match, literal(TITLE_TIER, Float(precision=53))), else_=0.0) + rank,
        conditions, cursor, limit)
    if cursor and decode_cursor(cursor, sort)[0] < TITLE_TIER:  # past the title matches
        return SearchPlan(everything, sort, "rank", planner, counted, capped)
    # The whole search must match too (``-word`` may be in the description): checked on the
    # title matches' rows rather than through the index of every match, and only when the
    # search has a negation (otherwise a title match is a match, and matching each one's
    # search vector again cost ~0.5 ms of 19 for a word in 12% of 100,000 titles).
    title_conditions = [c for c in conditions if c is not text_match]
    titles_first = _relevance_page(literal(TITLE_TIER, Float(precision=53)) + rank,
                                   [*title_conditions, title_match,
                                    _whole_search_matches(tsquery, text_match)],
                                   cursor, limit, count_as="titles_matched")
    return SearchPlan(titles_first, sort, "rank", planner, counted, capped, everything,
                      titles_counted, counts_titles=True)


def _capped_count(conditions: list[ColumnElement]) -> Select:
    """How many listings meet ``conditions``, counting no further than COUNT_CAP + 1."""
    return select(func.count()).select_from(
        select(Auction.id).where(*conditions).limit(COUNT_CAP + 1).subquery("matches"))


def _whole_search_matches(tsquery: ColumnElement, text_match: ColumnElement) -> ColumnElement:
    """True for a listing whose title matches when the whole search matches it too. Without a
    negation (``-word``) in the search, a title match is a match (the search vector holds the
    title's words at their own positions), so nothing is checked per row: PostgreSQL folds the
    negation test, a function of constants, when it plans the query, and the listings' search
    vectors (long, stored apart) are not read at all. With one, each title match is checked."""
    return or_(func.strpos(cast(tsquery, Text), "!") == 0, text_match.is_(True))


#: Added to the rank of a listing whose title matches the search: ts_rank is at most a few
#: units, so every title match ranks before every listing that matches elsewhere only. For a
#: single finished word this is exactly ts_rank's own order (a title occurrence, weight A,
#: scores at least 1/1.645 = 0.61; occurrences of weight B alone at most 0.4).
TITLE_TIER = 1_000_000.0


def _relevance_page(key: ColumnElement, conditions: list[ColumnElement], cursor: str | None,
                    limit: int, count_as: str | None = None) -> Select:
    """One page by relevance: score every row of ``conditions`` once, narrowly (id and rank;
    OFFSET 0 keeps PostgreSQL from computing the rank again in the cursor's condition), keep
    the page's ids, then fetch those rows. float8: the cursor must carry the exact value
    compared next time.

    With ``count_as``, each row also says how many rows were scored (whatever the cursor),
    under that name: the scored rows are kept (a materialized CTE) and counted, rather than
    found through the index a second time by a count of their own (for a word in 12% of
    100,000 titles: 2 ms in the statement against 3.7 ms and a round trip apart)."""
    scored_rows = select(Auction.id, key.label("rank")).where(*conditions)
    scored = (scored_rows.cte("scored").prefix_with("MATERIALIZED") if count_as
              else scored_rows.offset(0).subquery("scored"))
    columns = [scored.c.id, scored.c.rank]
    if count_as:
        columns.append(select(func.count()).select_from(scored).scalar_subquery()
                       .label(count_as))
    page = (select(*columns)
            .where(*_after(scored.c.rank, scored.c.id, cursor, "relevance", descending=True))
            .order_by(scored.c.rank.desc(), scored.c.id.desc()).limit(limit + 1)
            .subquery("page"))
    counted = [page.c[count_as]] if count_as else []
    return (select(Auction, page.c.rank, *counted).join(page, Auction.id == page.c.id)
            .order_by(page.c.rank.desc(), page.c.id.desc()))


def search(session: Session, filters: Filters, sort: str, limit: int, cursor: str | None,
           now: datetime, count: bool = False
           ) -> tuple[list[Auction], str | None, int | None]:
    """One page of listings matching ``filters`` in ``sort`` order, the next cursor, and
    (with ``count``) how many match, up to ``COUNT_CAP + 1``."""
    plan = plan_search(filters, sort, limit, cursor, now)
    if plan is None:
        return [], None, 0 if count else None
    plan_this_transaction(session, plan.planner)
    rows = session.execute(plan.statement).all()
    total = None
    if count and plan.counts_titles:
        # No row: no title matches after the cursor; the next statement counts them all.
        total = min(rows[0].titles_matched, COUNT_CAP + 1) if rows else 0
    if plan.fallback is not None and len(rows) <= limit:
        rows = session.execute(plan.fallback).all()
    auctions = [row[0] for row in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        last_key = last.rank if sort == "relevance" else getattr(last[0], plan.key_name)
        next_cursor = encode_cursor(sort, last_key, last[0].id)
    if count and not plan.counts_titles and plan.capped_title_count_statement is not None:
        total = session.execute(plan.capped_title_count_statement).scalar_one()
    if count and (total is None or total <= COUNT_CAP):
        total = session.execute(plan.capped_count_statement).scalar_one()
    return auctions, next_cursor, total


def watched(session: Session, user_id: uuid.UUID, limit: int, cursor: str | None
            ) -> tuple[list[tuple[Auction, datetime]], str | None]:
    """What a user watches, most recently watched first, with when they started."""
    query: Select = (select(Auction, Watch.created_at)
                     .join(Watch, Watch.auction_id == Auction.id)
                     .where(Watch.user_id == user_id))
    if cursor:
        after_key, after_id = decode_cursor(cursor, "watched")
        query = query.where(tuple_(Watch.created_at, Watch.auction_id)
                            < tuple_(after_key, after_id))
    query = query.order_by(Watch.created_at.desc(), Watch.auction_id.desc()).limit(limit + 1)
    rows = [(auction, watched_at) for auction, watched_at in session.execute(query).all()]
    next_cursor = None
    if len(rows) > limit:
        auction, watched_at = rows[limit - 1]
        next_cursor = encode_cursor("watched", watched_at, auction.id)
    return rows[:limit], next_cursor


def images_of(session: Session, auction_ids: Sequence[uuid.UUID]
              ) -> dict[uuid.UUID, list[AuctionImage]]:
    """The photos of each listing, in their order."""
    found: dict[uuid.UUID, list[AuctionImage]] = defaultdict(list)
    if auction_ids:
        for image in session.scalars(select(AuctionImage)
                                     .where(AuctionImage.auction_id.in_(auction_ids))
                                     .order_by(AuctionImage.auction_id, AuctionImage.position)):
            found[image.auction_id].append(image)
    return found


def locked_listing(session: Session, auction_id: uuid.UUID) -> Auction:
    """The listing, its row locked until the transaction ends; 404 when there is none.

    The lock orders a seller's change against the read model's bid events for the listing."""
    auction = session.scalars(
        select(Auction).where(Auction.id == auction_id).with_for_update()).first()
    if auction is None:
        raise Problem(404, "auction_not_found", "No such auction.")
    return auction


def is_watching(session: Session, user_id: uuid.UUID, auction_id: uuid.UUID) -> bool:
    """Whether the user watches the listing."""
    return session.get(Watch, (user_id, auction_id)) is not None
