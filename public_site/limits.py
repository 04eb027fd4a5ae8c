"""Rate limiting on the public site without keeping addresses.

The limiter's key is HMAC-SHA256 of the client address under a key that changes every day
(derived from the public site's rate-limit secret and the UTC date, then forgotten with the
day), truncated to 16 bytes. Counters live in process memory or in Redis with short expiries.
The address itself is never stored or logged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

from flask import Flask, request
from flask_limiter import Limiter

from core.settings import Settings

DEFAULT_LIMIT = "300 per minute"


def anonymous_key(secret: bytes, address: str, today: dt.date) -> str:
    day_key = hmac.new(secret, today.isoformat().encode(), hashlib.sha256).digest()
    return hmac.new(day_key, address.encode(), hashlib.sha256).hexdigest()[:32]


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
        swallow_errors=True,
    )
    app.extensions["qingling.limiter"] = limiter
    return limiter
