"""Redis unavailable: intake keeps working and the limits are still enforced, from memory
(docs/public-api.md, "Rate limits")."""

from __future__ import annotations

from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from core.clock import FakeClock
from core.settings import Settings
from crypto import tokens
from public_site import create_app
from tests.public_site.conftest import Ready, enter_token, post_tip, tip_fields, token_of

# Nothing listens on port 1 of the loopback address: every Redis call fails at once.
UNREACHABLE = "redis://127.0.0.1:1/0"


def unreachable_app(
    settings: Settings, session_factory: sessionmaker[Session], clock: FakeClock
) -> Flask:
    app = create_app(
        settings.with_changes(ratelimit_storage_uri=UNREACHABLE),
        session_factory=session_factory,
        clock=clock,
    )
    app.config["WTF_CSRF_ENABLED"] = False
    return app


def test_intake_works_and_limits_hold_without_redis(
    ready: Ready, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    app = unreachable_app(ready.settings, session_factory, clock)
    client = app.test_client()

    submitted = post_tip(client, tip_fields(ready.division()))
    assert submitted.status_code == 200, submitted.get_data(as_text=True)[:500]
    assert token_of(submitted)

    statuses = [enter_token(client, tokens.generate_token().display) for _ in range(11)]
    assert [r.status_code for r in statuses[:10]] == [404] * 10
    assert statuses[10].status_code == 429
    assert int(statuses[10].headers["Retry-After"]) >= 1
