"""The staff site: the bureau's back office, meant for its internal network."""

from __future__ import annotations

from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from core import settings as settings_module
from core.clock import Clock
from core.settings import Settings
from core.web import create_flask_app
from core.web_request import DatabaseInt, SiteRequest


def create_app(
    settings: Settings | None = None,
    *,
    session_factory: sessionmaker[Session] | None = None,
    clock: Clock | None = None,
) -> Flask:
    settings = settings or settings_module.load()
    app = create_flask_app(
        __name__, settings, side="staff", session_factory=session_factory, clock=clock
    )
    app.request_class = SiteRequest  # no nameless form fields (malformed multipart)
    app.url_map.converters["int"] = DatabaseInt  # ids a database can hold (before any route)

    from staff_site import auth
    from staff_site.views import (
        admin,
        audit,
        cases,
        dashboard,
        divisions,
        home,
        registry,
        reward_rules,
        rewards,
        standards,
        triage,
    )

    auth.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(home.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(divisions.bp)
    app.register_blueprint(audit.bp)
    app.register_blueprint(triage.bp)
    for blueprint in (registry, standards, cases, dashboard, rewards, reward_rules):
        app.register_blueprint(blueprint.bp)
    return app
