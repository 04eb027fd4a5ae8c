"""Rate limiting on the public site without keeping addresses.

The limiter's key is HMAC-SHA256 of the client address under a key that changes every day
(derived from the public site's rate-limit secret and the UTC date, then forgotten with the
day), truncated to 16 bytes. Counters live in process memory or in Redis with short expiries
(``QINGLING_RATELIMIT_STORAGE_URI``). The address itself is never stored or logged.

Limits per route are in :data:`ROUTE_LIMITS` and applied by :func:`apply_route_limits` when the
app is built (one limiter per app, so tests and workers never share counters by accident). A
limit is per address unless it is marked overall, in which case one counter is shared by every
client: token entries have both, so that many addresses together cannot make the server run
the token derivation without end. A refused request is a 429 with ``Retry-After`` (seconds).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
import time
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, request
from flask_limiter import Limiter

from core.settings import Settings

DEFAULT_LIMIT = "300 per minute"

#: New tips (web form and API): per address.
SUBMISSIONS = "5 per minute;30 per hour"
#: Token entries (web and API sessions; token replacement): per address, and overall.
TOKEN_ENTRIES = "10 per minute;60 per hour"  # noqa: S105 - a rate, not a secret
TOKEN_ENTRIES_OVERALL = "600 per minute"  # noqa: S105 - idem
#: Facility searches: per address.
SEARCHES = "30 per minute"
#: Messages and objections from reporters (web and API): per address.
MESSAGES = "10 per minute;60 per hour"
#: Text-file downloads of a token just shown: per address.
TOKEN_FILES = "20 per minute"  # noqa: S105 - idem


@dataclass(frozen=True)
class RouteLimit:
    limit: str
    overall: bool = False


ROUTE_LIMITS: dict[str, tuple[RouteLimit, ...]] = {
    "tips.submit": (RouteLimit(SUBMISSIONS),),
    "tips.search": (RouteLimit(SEARCHES),),
    "tips.token_file": (RouteLimit(TOKEN_FILES),),
    "reporter.enter": (RouteLimit(TOKEN_ENTRIES), RouteLimit(TOKEN_ENTRIES_OVERALL, overall=True)),
    "reporter.replace_token_view": (
        RouteLimit(TOKEN_ENTRIES),
        RouteLimit(TOKEN_ENTRIES_OVERALL, overall=True),
    ),
    # Claiming and declining a reward ask for the token again (a token derivation each).
    "claims.claim": (RouteLimit(TOKEN_ENTRIES), RouteLimit(TOKEN_ENTRIES_OVERALL, overall=True)),
    "claims.decline": (RouteLimit(TOKEN_ENTRIES), RouteLimit(TOKEN_ENTRIES_OVERALL, overall=True)),
    "api.claim_reward": (
        RouteLimit(TOKEN_ENTRIES),
        RouteLimit(TOKEN_ENTRIES_OVERALL, overall=True),
    ),
    "api.decline_reward": (
        RouteLimit(TOKEN_ENTRIES),
        RouteLimit(TOKEN_ENTRIES_OVERALL, overall=True),
    ),
    "api.create_tip": (RouteLimit(SUBMISSIONS),),
    "api.create_session": (
        RouteLimit(TOKEN_ENTRIES),
        RouteLimit(TOKEN_ENTRIES_OVERALL, overall=True),
    ),
    "api.facilities": (RouteLimit(SEARCHES),),
    "reporter.send_message": (RouteLimit(MESSAGES),),
    "reporter.object_to_conclusion": (RouteLimit(MESSAGES),),
    "api.send_message": (RouteLimit(MESSAGES),),
    "api.object_to_conclusion": (RouteLimit(MESSAGES),),
}


def anonymous_key(secret: bytes, address: str, today: dt.date) -> str:
    day_key = hmac.new(secret, today.isoformat().encode(), hashlib.sha256).digest()
    return hmac.new(day_key, address.encode(), hashlib.sha256).hexdigest()[:32]


def _overall_key() -> str:
    return "all"


def init_limiter(app: Flask, settings: Settings) -> Limiter:
    def key() -> str:
        return anonymous_key(
            settings.ratelimit_key, request.remote_addr or "", dt.datetime.now(dt.UTC).date()
        )

    limiter = Limiter(
        key_func=key,
        app=app,
        default_limits=[DEFAULT_LIMIT],
        storage_uri=settings.ratelimit_storage_uri or "memory://",
        strategy="fixed-window",
        headers_enabled=False,
        # Redis down: the limits go on being enforced from this process's memory (each worker
        # counts for itself until Redis answers again) and intake keeps working; an error in
        # the limiter never turns a request into a 500.
        in_memory_fallback_enabled=True,
        swallow_errors=True,
    )
    app.extensions["qingling.limiter"] = limiter

    @app.after_request
    def retry_after(response: Response) -> Response:
        """Flask-Limiter's own 429 response is replaced by the site's error page, so the
        ``Retry-After`` header is set here, from the limit that was hit."""
        if response.status_code == 429 and "Retry-After" not in response.headers:
            current = limiter.current_limit
            wait = math.ceil(current.reset_at - time.time()) if current is not None else 60
            response.headers["Retry-After"] = str(max(1, wait))
        return response

    return limiter


def limiter_of(app: Flask) -> Limiter:
    limiter: Limiter = app.extensions["qingling.limiter"]
    return limiter


def apply_route_limits(app: Flask) -> None:
    """Wrap each view of :data:`ROUTE_LIMITS` in its limits (after the blueprints are in)."""
    limiter = limiter_of(app)
    for endpoint, limits in ROUTE_LIMITS.items():
        view: Any = app.view_functions.get(endpoint)
        if view is None:
            continue
        for item in limits:
            if item.overall:
                view = limiter.limit(
                    item.limit, key_func=_overall_key, scope=f"{endpoint}/overall"
                )(view)
            else:
                view = limiter.limit(item.limit)(view)
        app.view_functions[endpoint] = view
