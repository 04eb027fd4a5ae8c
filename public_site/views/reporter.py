"""The reporter's pages: enter the token, the status page (with the message thread, the reply
form and the objection form), replacing the token, logout.

Entering the token runs the token derivation once and opens a reporter session
(``intake.services.open_reporter_session``); the public site's cookie (the Flask session,
``__Host-ql_public``, ``SameSite=Strict``, ``HttpOnly``) then holds only the session's random
value. The session ends after 20 minutes without a request, or at logout.

A well-formed token that matches no tip gets the same page, the same status and the same work
(the derivation always runs) whether or not a tip ever had it. A typo caught by the check
symbol is said at once, before any derivation: it tells nothing about any tip.

A message or an objection is posted with its form, then redirected (303) back to the status
page with a flash that says only that it was sent; a refusal (the window closed, the report
closed, an empty text) is shown on the form it concerns.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, session, url_for
from flask_babel import gettext
from werkzeug.wrappers.response import Response as BaseResponse

from core.errors import DomainError
from core.web import clock, db_session, rollback_request, settings_of
from intake import errors as intake_errors
from intake.access import ReporterAccess
from intake.services import (
    IDLE,
    end_reporter_session,
    open_reporter_session,
    replace_token,
    reporter_overview,
)
from public_site.forms.reporter import (
    ObjectionForm,
    PlainForm,
    ReplaceTokenForm,
    ReplyForm,
    TokenFileForm,
    TokenForm,
)
from public_site.labels import (
    CATEGORY_LABELS,
    FACILITY_STATUS_LABELS,
    NOT_ACCEPTED_REASON_LABELS,
    RELATIONSHIP_LABELS,
    outcome_label,
    reporter_state_explanation,
    reporter_state_label,
)
from public_site.views.common import (
    SESSION_KEY,
    UNAVAILABLE,
    current_access,
    form_error,
    message_of,
    unavailable_page,
)
from triage.services import reporter_object, reporter_reply, reporter_status

bp = Blueprint("reporter", __name__)

_TOKEN_ERRORS = (intake_errors.TokenTypo, intake_errors.UnknownToken)


@bp.get("/status")
def entry() -> str:
    return render_template(
        "public_site/reporter/entry.html", form=TokenForm(), active=current_access() is not None
    )


@bp.post("/status")
def enter() -> tuple[str, int] | BaseResponse:
    form = TokenForm()
    if not form.validate():
        return render_template("public_site/reporter/entry.html", form=form, active=False), 400
    try:
        opened = open_reporter_session(db_session(), clock(), settings_of(), form.token.data or "")
    except _TOKEN_ERRORS as exc:
        form_error(form, "token", message_of(exc))
        return (
            render_template("public_site/reporter/entry.html", form=form, active=False),
            exc.status,
        )
    except UNAVAILABLE:
        return unavailable_page()
    session.pop(SESSION_KEY, None)
    session[SESSION_KEY] = opened.value
    return redirect(url_for("reporter.status"), code=303)


def _ended() -> BaseResponse:
    flash(gettext("Your session has ended. Enter your tracking token again."), "notice")
    return redirect(url_for("reporter.entry"), code=303)


def _status_page(
    access: ReporterAccess,
    *,
    reply_form: ReplyForm | None = None,
    objection_form: ObjectionForm | None = None,
    code: int = 200,
) -> tuple[str, int]:
    """The status page: the report as the reporter wrote it (intake) and its handling
    (triage), with the reply and objection forms (blank, or as posted with their errors)."""
    overview = reporter_overview(db_session(), access)
    handling = reporter_status(db_session(), clock(), settings_of(), access)
    return render_template(
        "public_site/reporter/status.html",
        overview=overview,
        tip=overview.tip,
        handling=handling,
        state_label=reporter_state_label(handling.state),
        state_explanation=reporter_state_explanation(handling.state),
        outcome_label=outcome_label,
        not_accepted_reasons=NOT_ACCEPTED_REASON_LABELS,
        category_labels=CATEGORY_LABELS,
        relationship_labels=RELATIONSHIP_LABELS,
        facility_status_labels=FACILITY_STATUS_LABELS,
        reply_form=reply_form or ReplyForm(formdata=None),
        objection_form=objection_form or ObjectionForm(formdata=None),
        replace_form=ReplaceTokenForm(formdata=None),
        logout_form=PlainForm(),
        idle_minutes=int(IDLE.total_seconds() // 60),
    ), code


@bp.get("/status/report")
def status() -> tuple[str, int] | BaseResponse:
    access = current_access()
    if access is None:
        return _ended()
    return _status_page(access)


def _back_to_status(message: str) -> BaseResponse:
    """Redirect after POST; the flash says what happened, never what was written."""
    flash(message, "notice")
    return redirect(url_for("reporter.status"), code=303)


@bp.post("/status/messages")
def send_message() -> tuple[str, int] | BaseResponse:
    """The reporter's message (an answer to an officer's question, or more information)."""
    access = current_access()
    if access is None:
        return _ended()
    form = ReplyForm()
    if not form.validate():
        return _status_page(access, reply_form=form, code=400)
    try:
        reporter_reply(db_session(), clock(), settings_of(), access, form.body.data or "")
    except DomainError as exc:
        rollback_request()
        form_error(form, "body", message_of(exc))
        return _status_page(access, reply_form=form, code=exc.status)
    return _back_to_status(gettext("Your message was sent."))


@bp.post("/status/objection")
def object_to_conclusion() -> tuple[str, int] | BaseResponse:
    """The reporter's objection to the conclusion, within the objection window."""
    access = current_access()
    if access is None:
        return _ended()
    form = ObjectionForm()
    if not form.validate():
        return _status_page(access, objection_form=form, code=400)
    try:
        reporter_object(db_session(), clock(), settings_of(), access, form.reason.data or "")
    except DomainError as exc:
        rollback_request()
        form_error(form, "reason", message_of(exc))
        return _status_page(access, objection_form=form, code=exc.status)
    flash(gettext("Your objection was received. Your report will be checked again."), "notice")
    return redirect(url_for("reporter.status"), code=303)


@bp.post("/status/token")
def replace_token_view() -> tuple[str, int] | BaseResponse:
    """A new token for the tip of this session; the reporter types the current one again."""
    access = current_access()
    if access is None:
        return _ended()
    form = ReplaceTokenForm()
    if form.validate():
        try:
            token = replace_token(
                db_session(),
                clock(),
                settings_of(),
                form.token.data or "",
                for_tip=access.tip_id,
            )
        except _TOKEN_ERRORS as exc:
            rollback_request()
            form_error(form, "token", message_of(exc))
        except UNAVAILABLE:
            return unavailable_page()
        else:
            return render_template(
                "public_site/reporter/new_token.html",
                token=token.display,
                file_form=TokenFileForm(token=token.display),
            ), 200
    return render_template("public_site/reporter/replace.html", form=form), 400


@bp.get("/status/token")
def replace_form() -> str | BaseResponse:
    if current_access() is None:
        return _ended()
    return render_template("public_site/reporter/replace.html", form=ReplaceTokenForm())


@bp.post("/status/logout")
def logout() -> BaseResponse:
    end_reporter_session(db_session(), session.pop(SESSION_KEY, None))
    flash(gettext("You are logged out. Your report is unchanged."), "notice")
    return redirect(url_for("reporter.entry"), code=303)
