"""bidding_service: bids and the live state of every auction; it closes auctions.
Owns the ``bidding`` schema. Process types: web, worker (relay, consumers, closer), realtime."""
