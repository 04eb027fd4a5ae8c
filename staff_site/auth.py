"""Staff login (password, then TOTP), enrolment of the authenticator app, logout, own account.

The Flask session cookie (signed, ``SameSite=Strict``, ``__Host-`` name) carries only ``sid``:
the random value r of a :class:`~core.accounts.models.StaffSession`, found by SHA-256(r).
A request with a full session has ``g.user``; a request between the password and the code has
``g.pending`` (the pending session) and may reach only the TOTP and enrolment pages.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

import segno
from flask import (
    Blueprint,
    Flask,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers.response import Response

from core.accounts import services as accounts
from core.accounts.errors import AlreadyEnrolled, LoginExpired, WeakPassword, WrongCurrentPassword
from core.accounts.models import Role, SessionStage, StaffSession, User
from core.errors import TooManyAttempts
from core.keys import personal as personal_keys
from core.keys.errors import NoPersonalKey
from core.web import clock, db_session, safe_next, settings_of
from registry.models import Division
from staff_site.forms import page_status
from staff_site.forms.auth import (
    ChangePasswordForm,
    CodeForm,
    ConfirmForm,
    LoginForm,
    RecoverPasswordForm,
)

bp = Blueprint("auth", __name__)

SESSION_KEY = "sid"

ROLE_LABELS = {
    Role.TRIAGE_OFFICER: _l("Triage officer"),
    Role.CASE_OFFICER: _l("Case officer"),
    Role.FINANCE_OFFICER: _l("Finance officer"),
    Role.FINANCE_APPROVER: _l("Finance approver"),
    Role.SUPERVISOR: _l("Supervisor"),
    Role.ADMINISTRATOR: _l("Administrator"),
    Role.AUDITOR: _l("Auditor"),
}

F = TypeVar("F", bound=Callable[..., Any])


# ---------------------------------------------------------------- request hooks and helpers


def init_app(app: Flask) -> None:
    """Load the user of each request; trust ``proxy_count`` X-Forwarded-For hops."""
    proxies = settings_of(app).proxy_count
    if proxies > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies)  # type: ignore[method-assign]
    app.before_request(_load_user)
    app.jinja_env.globals.update(Role=Role, role_label=role_label, division_name=division_name)


def _load_user() -> None:
    g.user = None
    g.pending = None
    g.staff_session = None
    if request.endpoint == "static" or SESSION_KEY not in session:
        return
    value = session.get(SESSION_KEY)
    row = accounts.find_session(
        db_session(), clock(), settings_of(), value if isinstance(value, str) else None
    )
    if row is None:
        session.pop(SESSION_KEY, None)
        return
    g.staff_session = row
    if row.stage == SessionStage.FULL:
        g.user = row.user
    else:
        g.pending = row


def _cookie_value() -> str:
    value = session.get(SESSION_KEY)
    return value if isinstance(value, str) else ""


def personal_key() -> bytes:
    """The logged-in user's personal private key, from their session row and cookie.

    Raises :class:`~core.keys.errors.NoPersonalKey` (shown as "log in again") if the session
    holds none. Pass it straight to a service; never keep it beyond the request.
    """
    row: StaffSession | None = g.get("staff_session")
    if row is None or g.get("user") is None:
        raise NoPersonalKey()
    return accounts.session_personal_key(row, _cookie_value())


def current_user() -> User:
    """The logged-in user; only inside views protected by :func:`login_required`."""
    user: User | None = g.get("user")
    if user is None:
        abort(401)
    return user


def _pending() -> StaffSession | None:
    row: StaffSession | None = g.get("pending")
    return row


def role_label(role: Role | str) -> str:
    label = ROLE_LABELS.get(Role(role))
    return str(label) if label is not None else str(role)


def division_name(division_id: int | None) -> str:
    if division_id is None:
        return str(gettext("whole city"))
    division = db_session().get(Division, division_id)
    return division.name if division is not None else "?"


def client_address() -> str | None:
    """The client's address (after ProxyFix), used only as an HMAC throttling key."""
    return request.remote_addr


def login_required(view: F) -> F:
    """Full session required; otherwise to the login page. Forces a pending password change."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        user: User | None = g.get("user")
        if user is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        if user.must_change_password and request.endpoint not in {
            "auth.account",
            "auth.logout",
            "auth.recovery_code",
        }:
            return redirect(url_for("auth.account"))
        return view(*args, **kwargs)

    return cast(F, wrapped)


def roles_required(*roles: Role) -> Callable[[F], F]:
    """403 unless the user holds one of ``roles`` (use under :func:`login_required`)."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            user: User | None = g.get("user")
            if user is None:
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if not user.active or not user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        return cast(F, wrapped)

    return decorator


def _start_session(cookie_value: str) -> None:
    """Put a new session's value in the cookie (the old value, if any, is gone)."""
    session.pop(SESSION_KEY, None)
    session[SESSION_KEY] = cookie_value


def _next() -> str:
    return safe_next(request.args.get("next"), url_for("home.index"))


# ---------------------------------------------------------------- login steps


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    if g.get("user") is not None:
        return redirect(_next())
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            result = accounts.password_login(
                db_session(),
                clock(),
                settings_of(),
                username=form.username.data or "",
                password=form.password.data or "",
                address=client_address(),
            )
        except TooManyAttempts as exc:
            form.form_errors.append(gettext(exc.message, **exc.params))
            status = 429
        else:
            if result.cookie is not None:
                _start_session(result.cookie)
                step = "auth.enrol" if result.needs_enrolment else "auth.totp"
                return redirect(url_for(step, next=_next()), code=303)
            form.form_errors.append(gettext(result.error or accounts.WRONG_CREDENTIALS))
            status = 401
    return render_template("staff_site/auth/login.html", form=form), page_status(form, status)


def _require_pending() -> StaffSession | Response:
    pending = _pending()
    if pending is None:
        if g.get("user") is not None:
            return redirect(url_for("home.index"))
        flash(gettext("Your login has expired. Log in again."))
        return redirect(url_for("auth.login"))
    return pending


@bp.route("/login/totp", methods=["GET", "POST"])
def totp() -> str | Response | tuple[str, int]:
    pending = _require_pending()
    if isinstance(pending, Response):
        return pending
    if pending.user.totp_seed_enc is None:
        return redirect(url_for("auth.enrol", next=_next()))
    form = CodeForm()
    status = 200
    if form.validate_on_submit():
        try:
            result = accounts.complete_totp_login(
                db_session(),
                clock(),
                settings_of(),
                pending,
                code=form.code.data or "",
                address=client_address(),
                cookie_value=_cookie_value(),
            )
        except TooManyAttempts as exc:
            form.form_errors.append(gettext(exc.message, **exc.params))
            status = 429
        else:
            if result.cookie is not None:
                _start_session(result.cookie)
                return redirect(_after_login(result), code=303)
            form.code.errors = [gettext(result.error or accounts.WRONG_CODE)]
            status = 401
    return render_template("staff_site/auth/totp.html", form=form), page_status(form, status)


def _after_login(result: accounts.LoginResult) -> str:
    """Where a completed login goes: the recovery-code page first if there is no code yet."""
    if result.needs_recovery_code:
        return url_for("auth.recovery_code", next=_next())
    return _next()


def qr_svg(uri: str) -> Markup:
    """The QR code of ``uri`` as an inline <svg> element, drawn here (no outside service)."""
    code = segno.make(uri, error="m")
    svg = code.svg_inline(
        scale=1, border=2, omitsize=True, svgclass="qr-code", dark="#000", light="#fff"
    )
    # segno writes only path data and colours; the URI's text is not in the markup.
    return Markup(svg)  # noqa: S704 - trusted SVG generated by segno above


@bp.route("/login/enrol", methods=["GET", "POST"])
def enrol() -> str | Response | tuple[str, int]:
    pending = _require_pending()
    if isinstance(pending, Response):
        return pending
    try:
        enrolment = accounts.pending_enrolment(db_session(), settings_of(), pending)
    except AlreadyEnrolled:
        return redirect(url_for("auth.totp", next=_next()))
    form = CodeForm()
    status = 200
    if form.validate_on_submit():
        try:
            result = accounts.confirm_totp_enrolment(
                db_session(),
                clock(),
                settings_of(),
                pending,
                code=form.code.data or "",
                address=client_address(),
                cookie_value=_cookie_value(),
            )
        except TooManyAttempts as exc:
            form.form_errors.append(gettext(exc.message, **exc.params))
            status = 429
        except LoginExpired:
            flash(gettext("Your login has expired. Log in again."))
            return redirect(url_for("auth.login"))
        else:
            if result.cookie is not None:
                _start_session(result.cookie)
                flash(gettext("Two-step verification is set up."))
                return redirect(_after_login(result), code=303)
            form.code.errors = [gettext(result.error or accounts.WRONG_CODE)]
            status = 401
    return render_template(
        "staff_site/auth/enrol.html",
        form=form,
        secret=enrolment.secret,
        qr=qr_svg(enrolment.uri),
        username=pending.user.username,
    ), page_status(form, status)


@bp.post("/logout")
def logout() -> Response:
    user: User | None = g.get("user")
    pending = _pending()
    if user is not None:
        accounts.logout(db_session(), clock(), user)
    elif pending is not None:
        accounts.cancel_pending(db_session(), pending)
    session.pop(SESSION_KEY, None)
    flash(gettext("You are logged out."))
    return redirect(url_for("auth.login"), code=303)


# ---------------------------------------------------------------- own account


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account() -> str | Response | tuple[str, int]:
    user = current_user()
    form = ChangePasswordForm()
    status = 200
    if form.validate_on_submit():
        try:
            cookie_value = accounts.change_own_password(
                db_session(),
                clock(),
                settings_of(),
                user,
                current_password=form.current_password.data or "",
                new_password=form.new_password.data or "",
            )
        except WrongCurrentPassword as exc:
            form.current_password.errors = [gettext(exc.message)]
            status = 400
        except WeakPassword as exc:
            form.new_password.errors = [gettext(p) for p in exc.problems]
            status = 400
        else:
            _start_session(cookie_value)
            flash(gettext("Your password has been changed. You were logged out everywhere else."))
            if not personal_keys.has_recovery_code(db_session(), user.id):
                return redirect(url_for("auth.recovery_code"), code=303)
            return redirect(url_for("home.index"), code=303)
    suggestion = accounts.suggest_passphrase(username=user.username, display_name=user.display_name)
    return render_template(
        "staff_site/auth/account.html",
        form=form,
        user=user,
        suggestion=suggestion,
        has_recovery_code=personal_keys.has_recovery_code(db_session(), user.id),
        recovery_form=ConfirmForm(),
    ), page_status(form, status)


@bp.route("/account/recovery-code", methods=["GET", "POST"])
@login_required
def recovery_code() -> str | Response | tuple[str, int]:
    """Make a new recovery code and show it once, in the response to the POST (never in a
    redirect, a flash message or a log). Any earlier code stops working."""
    user = current_user()
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            code = personal_keys.issue_recovery_code(
                db_session(),
                clock(),
                settings_of(),
                accounts.actor_of(user),
                user,
                private_key=personal_key(),
            )
        except NoPersonalKey as exc:
            flash(gettext(exc.message))
            return redirect(url_for("auth.account"), code=303)
        return render_template("staff_site/auth/recovery_code_shown.html", code=code, next=_next())
    return render_template(
        "staff_site/auth/recovery_code.html",
        form=form,
        has_code=personal_keys.has_recovery_code(db_session(), user.id),
    ), page_status(form)


@bp.route("/login/recover", methods=["GET", "POST"])
def recover() -> str | Response | tuple[str, int]:
    """A forgotten password: user name, recovery code, authenticator code, new password."""
    if g.get("user") is not None:
        return redirect(url_for("auth.account"))
    form = RecoverPasswordForm()
    status = 200
    if form.validate_on_submit():
        try:
            result = accounts.recover_password(
                db_session(),
                clock(),
                settings_of(),
                username=form.username.data or "",
                recovery_code=form.recovery_code.data or "",
                totp_code=form.code.data or "",
                new_password=form.new_password.data or "",
                address=client_address(),
            )
        except TooManyAttempts as exc:
            form.form_errors.append(gettext(exc.message, **exc.params))
            status = 429
        except WeakPassword as exc:
            form.new_password.errors = [gettext(p) for p in exc.problems]
            status = 400
        else:
            if result.new_code is not None:
                session.pop(SESSION_KEY, None)
                # Shown in this response only (never in a redirect, a flash or a log).
                return render_template(
                    "staff_site/auth/recovery_code_shown.html", code=result.new_code, next=None
                )
            form.form_errors.append(gettext(result.error or accounts.WRONG_RECOVERY))
            status = 401
    elif form.errors:
        status = 400
    return render_template("staff_site/auth/recover.html", form=form), status
