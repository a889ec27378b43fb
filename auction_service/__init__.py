"""auction_service: the catalog (listings, schedule, pricing rules, status) and its read model
of price and bid count. Owns the ``auctions`` schema."""
