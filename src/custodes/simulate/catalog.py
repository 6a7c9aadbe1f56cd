"""The platform's routes: what personal data each returns, and how often each is called.

One row per route (behaviour as a table). ``customer`` is the relative weight of the route in
a customer's browsing; the back office and services use the routes named in their modules.
``size`` is the median response size in bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from custodes import contract


@dataclass(frozen=True)
class Route:
    method: str
    route: str
    fields: str
    bulk: bool = False
    customer: float = 0.0   # weight in customer traffic
    anonymous: float = 0.0  # weight in logged-out traffic
    size: int = 2_000


ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/v1/home", "", customer=14, anonymous=20, size=38_000),
    Route("GET", "/api/v1/search", "", customer=22, anonymous=30, size=52_000),
    Route("GET", "/api/v1/products/{id}", "", customer=30, anonymous=45, size=24_000),
    Route("GET", "/api/v1/products/{id}/reviews", "", customer=6, anonymous=5, size=18_000),
    Route("GET", "/api/v1/cart", "", customer=7, size=6_000),
    Route("POST", "/api/v1/cart/items", "", customer=4, size=900),
    Route("GET", "/api/v1/me/profile", "name;email", customer=3, size=1_400),
    Route("GET", "/api/v1/me/addresses", "name;phone;address", customer=2.5, size=2_600),
    Route("GET", "/api/v1/me/addresses/{id}/edit", "address;entrance_code", customer=0.3, size=1_800),
    Route("GET", "/api/v1/me/orders", "order_history", customer=3.5, size=9_000),
    Route("GET", "/api/v1/me/orders/{id}", "name;phone;address;order_history", customer=1.5, size=4_200),
    Route("GET", "/api/v1/me/payment-methods", "payment", customer=0.6, size=1_100),
    Route("POST", "/api/v1/orders", "name;phone;address;order_history;payment", customer=1.2, size=3_100),
    Route("GET", "/api/v1/me/coupons", "", customer=2, size=3_500),
    # Back office (customer service) and internal routes.
    Route("GET", "/admin/customers/{id}", "name;email;phone;address", size=5_200),
    Route("GET", "/admin/customers/{id}/orders", "order_history", size=11_000),
    Route("GET", "/admin/tickets", "", size=14_000),
    Route("GET", "/admin/reports/daily", "", size=40_000),
    Route("GET", "/admin/export/customers", "name;email;phone;address", bulk=True, size=900_000),
    Route("GET", "/internal/v1/customers/{id}/contact", "name;email;phone", size=600),
)

ROUTE_INDEX = {r.route: i for i, r in enumerate(ROUTES)}
METHODS = [r.method for r in ROUTES]
ROUTE_NAMES = [r.route for r in ROUTES]
SIZES = np.array([r.size for r in ROUTES], dtype=np.float64)


def index(route: str) -> int:
    return ROUTE_INDEX[route]


def weights(kind: str) -> np.ndarray:
    w = np.array([getattr(r, kind) for r in ROUTES], dtype=np.float64)
    return w / w.sum()


def catalog_table() -> pa.Table:
    table = pa.table({
        "route": [r.route for r in ROUTES],
        "fields": [r.fields for r in ROUTES],
        "bulk": [r.bulk for r in ROUTES],
    })
    return contract.conform("catalog", table)
