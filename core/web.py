"""What both sites share: configuration, the request's database session, security headers,
language, CSRF and the one place where errors become pages or JSON.

This module is the only part of ``core`` that knows Flask; the domain packages never import it.
"""

from __future__ import annotations

import logging
import secrets
import traceback
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
)
from flask_babel import Babel, get_locale, gettext
from flask_wtf import CSRFProtect
from flask_wtf.csrf import CSRFError
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers.response import Response as BaseResponse

from core import db
from core.clock import Clock, SystemClock
from core.errors import DomainError
from core.settings import Settings
from templates import TEMPLATE_DIR

STATIC_DIR = Path(__file__).resolve().parent / "static"
TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"
LANGUAGES = {"zh_CN": "中文", "en": "English"}

log = logging.getLogger("qingling")

CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)

csrf = CSRFProtect()


class QinglingFlask(Flask):
    """Flask, except for its own report of an error that reaches ``handle_exception`` (one
    raised in an after-request hook, such as the commit): Flask logs the request's path and
    the whole traceback with every message, which on the public site may hold what a visitor
    typed and from the driver the database's host and user. The handler that answers such an
    error (``internal_error`` below) logs what each site may log, under a reference number."""

    def log_exception(
        self,
        exc_info: tuple[type, BaseException, TracebackType] | tuple[None, None, None],
    ) -> None:
        return None


def create_flask_app(
    import_name: str,
    settings: Settings,
    *,
    side: str,
    session_factory: sessionmaker[Session] | None = None,
    clock: Clock | None = None,
) -> Flask:
    """The common part of both factories. ``side`` is ``public`` or ``staff``."""
    settings.require_secrets(side)
    app = QinglingFlask(
        import_name,
        template_folder=str(TEMPLATE_DIR),
        static_folder=str(STATIC_DIR),
        static_url_path="/static",
    )
    cookie = ("__Host-" if settings.secure_cookies else "") + f"ql_{side}"
    secret = settings.public_secret_key if side == "public" else settings.staff_secret_key
    app.config.update(
        SECRET_KEY=secret,
        SESSION_COOKIE_NAME=cookie,
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_PATH="/",
        SESSION_COOKIE_DOMAIN=False,
        MAX_CONTENT_LENGTH=settings.max_upload_mb * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None if side == "public" else 8 * 3600,
        WTF_CSRF_SSL_STRICT=False,  # no Referer is ever sent (Referrer-Policy: no-referrer)
        TESTING=settings.testing,
        PREFERRED_URL_SCHEME="https",
    )
    app.extensions["qingling.settings"] = settings
    app.extensions["qingling.side"] = side
    if session_factory is None:
        session_factory = db.make_session_factory(db.make_engine(settings))
    app.extensions["qingling.sessions"] = session_factory
    app.extensions["qingling.clock"] = clock or SystemClock()

    csrf.init_app(app)
    Babel(
        app,
        locale_selector=_select_locale,
        default_translation_directories=str(TRANSLATIONS_DIR),
        default_locale=settings.default_locale,
        default_timezone="Asia/Shanghai",
    )
    app.jinja_env.autoescape = True
    app.jinja_env.globals.update(languages=LANGUAGES, side=side, get_locale=get_locale)

    app.before_request(_note_endpoint)
    app.after_request(_commit_request)
    app.after_request(_security_headers)
    app.teardown_request(_close_session)
    _register_error_handlers(app)
    app.register_blueprint(_language_blueprint())
    return app


# ---------------------------------------------------------------- settings and database


def settings_of(app: Flask | None = None) -> Settings:
    s: Settings = (app or current_app).extensions["qingling.settings"]
    return s


def clock() -> Clock:
    """The clock services get from this app (a fake one in tests)."""
    c: Clock = current_app.extensions["qingling.clock"]
    return c


def db_session() -> Session:
    """The session of this request, opened on first use and committed once at its end."""
    if "db_session" not in g:
        factory: sessionmaker[Session] = current_app.extensions["qingling.sessions"]
        g.db_session = factory()
    s: Session = g.db_session
    return s


def _note_endpoint() -> None:
    """Let the request log name the route rather than the path a visitor typed."""
    request.environ["qingling.endpoint"] = request.endpoint or "-"


def _commit_request(response: Response) -> Response:
    s: Session | None = g.get("db_session")
    if s is not None and response.status_code < 500:
        s.commit()
    return response


def _close_session(exc: BaseException | None) -> None:
    s: Session | None = g.pop("db_session", None)
    if s is not None:
        if exc is not None:
            s.rollback()
        s.close()


def rollback_request() -> None:
    s: Session | None = g.get("db_session")
    if s is not None:
        s.rollback()


# ---------------------------------------------------------------- headers


def _security_headers(response: Response) -> Response:
    settings = settings_of()
    h = response.headers
    h["Content-Security-Policy"] = CSP
    if settings.hsts_seconds:
        h["Strict-Transport-Security"] = f"max-age={settings.hsts_seconds}; includeSubDomains"
    h["X-Frame-Options"] = "DENY"
    h["Referrer-Policy"] = "no-referrer"
    h["X-Content-Type-Options"] = "nosniff"
    h["Cross-Origin-Opener-Policy"] = "same-origin"
    h["Cross-Origin-Resource-Policy"] = "same-origin"
    h["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), interest-cohort=()"
    if request.endpoint != "static":
        h["Cache-Control"] = "no-store"
        h["Pragma"] = "no-cache"
    return response


# ---------------------------------------------------------------- language


def _select_locale() -> str:
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return str(chosen)
    return settings_of().default_locale


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path to return to; anything with a scheme or host falls back to ``default``."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target or any(ch < " " or ch == "\x7f" for ch in target):
        # A control character: CR/LF would be a header of the attacker's (and a 500 from
        # Werkzeug), NUL or a tab no path of ours has (found by tests/hostile).
        return default
    return target


def _language_blueprint() -> Blueprint:
    bp = Blueprint("language", __name__)

    @bp.post("/language")
    def switch() -> BaseResponse:
        lang = request.form.get("lang", "")
        if lang in LANGUAGES:
            session["lang"] = lang
        return redirect(safe_next(request.form.get("next")), code=303)

    return bp


# ---------------------------------------------------------------- errors


def _wants_json() -> bool:
    return request.path.startswith("/api/")


#: The ``code`` of a JSON error under /api/ by HTTP status (the public API's error shape,
#: ``{"error": {"code", "message", "fields"}}``).
JSON_ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
    500: "server_error",
    503: "unavailable",
}


def _error_response(status: int, title: str, detail: str, reference: str | None = None) -> Any:
    if _wants_json():
        error: dict[str, Any] = {
            "code": JSON_ERROR_CODES.get(status, "error"),
            "message": detail,
            "fields": {},
        }
        if reference:
            error["reference"] = reference
        return jsonify({"error": error}), status
    return (
        render_template(
            "includes/error.html", status=status, title=title, detail=detail, reference=reference
        ),
        status,
    )


_HTTP_TITLES: dict[int, Callable[[], str]] = {
    400: lambda: gettext("Bad request"),
    403: lambda: gettext("Not allowed"),
    404: lambda: gettext("Page not found"),
    405: lambda: gettext("Method not allowed"),
    413: lambda: gettext("Too large"),
    429: lambda: gettext("Too many requests"),
    503: lambda: gettext("Service unavailable"),
}

_HTTP_DETAILS: dict[int, Callable[[], str]] = {
    400: lambda: gettext("The request could not be understood. Go back and try again."),
    403: lambda: gettext("You are not allowed to see this page."),
    404: lambda: gettext("There is no page at this address."),
    405: lambda: gettext("This page cannot be used this way."),
    413: lambda: gettext("What you sent is larger than this service accepts."),
    429: lambda: gettext("Too many requests in a short time. Wait a few minutes and try again."),
    503: lambda: gettext("The service is busy or under maintenance. Try again in a minute."),
}


#: Seconds a client is asked to wait (``Retry-After``) when the database cannot be used.
DATABASE_RETRY_AFTER = 30


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be used at the moment rather than that the
    request was wrong: a connection refused or dropped (the server stopped or restarting), a
    lock or busy timeout, a full disk, the connection pool exhausted. SQLAlchemy raises these
    as ``OperationalError`` (PostgreSQL's classes 08, 53, 57 and the like; SQLite's BUSY, FULL,
    IOERR, CANTOPEN), as another ``DBAPIError`` that invalidated its connection, or as its own
    pool ``TimeoutError``."""
    if isinstance(exc, sa_exc.OperationalError | sa_exc.TimeoutError):
        return True
    return isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated


def _database_code(exc: BaseException) -> str:
    """What the driver calls the error (a SQLSTATE, a SQLite error name), never its message:
    driver messages name hosts, ports, users and databases."""
    orig = getattr(exc, "orig", None)
    code = getattr(orig, "sqlstate", None) or getattr(orig, "sqlite_errorname", None)
    return str(code or "-")


def _rollback_quietly() -> None:
    """Roll the request back when its connection may be gone; a second failure changes
    nothing (the pool drops a connection it cannot reset)."""
    try:
        rollback_request()
    except sa_exc.SQLAlchemyError:
        s: Session | None = g.get("db_session")
        if s is not None:
            s.invalidate()


def _register_error_handlers(app: Flask) -> None:
    def unavailable(exc: BaseException) -> Any:
        """503 with ``Retry-After``: nothing of the request was committed (its transaction is
        rolled back, or was lost with the connection), and the client may send it again."""
        _rollback_quietly()
        log.warning(
            "database unavailable: %s (%s) in %s",
            type(getattr(exc, "orig", None) or exc).__name__,
            _database_code(exc),
            request.environ.get("qingling.endpoint", "-"),
        )
        body, status = _error_response(
            503,
            gettext("Service unavailable"),
            gettext(
                "The service cannot save or read anything at the moment. Nothing you sent "
                "was saved. Please try again in a few minutes."
            ),
        )
        return body, status, {"Retry-After": str(DATABASE_RETRY_AFTER)}

    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError) -> Any:
        rollback_request()
        title = _HTTP_TITLES[exc.status]() if exc.status in _HTTP_TITLES else gettext("Error")
        return _error_response(exc.status, title, gettext(exc.message, **exc.params))

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> Any:
        rollback_request()
        return _error_response(
            400,
            gettext("Form expired"),
            gettext(
                "The form was missing its security token or had expired. "
                "Go back, reload the page and send it again."
            ),
        )

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        rollback_request()
        status = exc.code or 500
        if status >= 500:
            return internal_error(exc)
        title = _HTTP_TITLES.get(status, lambda: exc.name)()
        detail = _HTTP_DETAILS.get(status, lambda: exc.name)()
        response = _error_response(status, title, detail)
        if status == 405 and exc.get_response().headers.get("Allow"):
            body, code = response
            return body, code, {"Allow": exc.get_response().headers["Allow"]}
        return response

    @app.errorhandler(Exception)
    def internal_error(exc: BaseException) -> Any:
        # An error in an after-request hook (the commit) reaches here wrapped in a 500.
        cause = getattr(exc, "original_exception", None) or exc
        if database_unavailable(cause):
            return unavailable(cause)
        _rollback_quietly()
        reference = secrets.token_hex(4)
        if app.extensions["qingling.side"] == "public":
            # Exception messages can carry what a reporter typed; the public site logs only
            # the exception type and where it was raised.
            frames = traceback.extract_tb(cause.__traceback__)
            where = "; ".join(f"{f.filename}:{f.lineno} {f.name}" for f in frames[-5:])
            log.error("internal error ref=%s type=%s at %s", reference, type(cause).__name__, where)
        else:
            log.error("internal error ref=%s", reference, exc_info=cause)
        return _error_response(
            500,
            gettext("Something went wrong"),
            gettext(
                "The service hit an error and nothing was saved. Try again; if it keeps "
                "happening, give this reference number to the service desk."
            ),
            reference,
        )
