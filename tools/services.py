"""The four services, as the runners see them: package, schema, role, routes, builders."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ServiceSpec:
    """How to run one service."""

    package: str
    schema: str
    role: str
    prefixes: tuple[str, ...]
    settings_class: str

    @property
    def directory(self) -> Path:
        return ROOT / self.package

    def module(self, name: str):
        """Import ``<package>.<name>``."""
        return importlib.import_module(f"{self.package}.{name}")

    def settings_type(self):
        return getattr(self.module("settings"), self.settings_class)


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("user_service", "users", "users_svc", ("/api/auth", "/api/users"),
                "UserSettings"),
    ServiceSpec("auction_service", "auctions", "auctions_svc", ("/api/auctions", "/media"),
                "AuctionSettings"),
    ServiceSpec("bidding_service", "bidding", "bidding_svc", ("/api/bids",), "BiddingSettings"),
    ServiceSpec("notification_service", "notifications", "notifications_svc",
                ("/api/notifications",), "NotificationSettings"),
)
