"""The public site: the only part of Qingling on the internet.

It registers no staff blueprint, reads no staff secret and records no client address.
"""

from __future__ import annotations

from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from core import settings as settings_module
from core.clock import Clock
from core.settings import Settings
from core.web import create_flask_app
from public_site.limits import apply_route_limits, init_limiter
from public_site.uploads import EncryptingRequest


def create_app(
    settings: Settings | None = None,
    *,
    session_factory: sessionmaker[Session] | None = None,
    clock: Clock | None = None,
) -> Flask:
    settings = settings or settings_module.load()
    app = create_flask_app(
        __name__, settings, side="public", session_factory=session_factory, clock=clock
    )
    app.request_class = EncryptingRequest  # uploads never spool to disk in plaintext
    init_limiter(app, settings)

    from core.web import csrf
    from public_site import api
    from public_site.views import claims, home, reporter, stats, tips, wechat

    app.register_blueprint(home.bp)
    app.register_blueprint(tips.bp)
    app.register_blueprint(reporter.bp)
    for blueprint in (stats, claims, wechat):
        app.register_blueprint(blueprint.bp)
    # The API uses no cookie (anonymous or bearer), so CSRF does not apply: see public_site.api.
    csrf.exempt(api.bp)
    # WeChat's server signs its pushes (msg_signature); it cannot carry a CSRF token.
    csrf.exempt(wechat.bp)
    app.register_blueprint(api.bp)
    apply_route_limits(app)
    return app
