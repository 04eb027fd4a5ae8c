"""What the public views share: mapping intake errors to form fields, the reporter session
held in the cookie, and the page shown when reporting is not set up."""

from __future__ import annotations

from typing import Any

from flask import render_template, session
from flask_babel import gettext

from core.errors import DomainError
from core.keys.errors import KeyPinsUnreadable, KeyRecordRejected, KeysNotInitialised
from core.web import clock, db_session, rollback_request
from intake import errors as intake_errors
from intake.access import ReporterAccess
from intake.services import reporter_access

#: The key of the reporter-session value in the public site's (Flask) session cookie.
SESSION_KEY = "rs"

#: Errors that mean "reporting is not set up or not safe right now" (503): the reporter sees
#: a page saying nothing was saved, never a stack trace or an administrator's command.
UNAVAILABLE = (
    intake_errors.IntakeNotReady,
    intake_errors.NoRecipients,
    KeysNotInitialised,
    KeyRecordRejected,
    KeyPinsUnreadable,
)


def message_of(exc: DomainError) -> str:
    text: str = gettext(exc.message, **exc.params)
    position = getattr(exc, "position", None)
    if isinstance(exc, intake_errors.AttachmentRefused) and position:
        text = gettext("File %(position)s: %(problem)s", position=position, problem=text)
    return text


def unavailable_page() -> tuple[str, int]:
    rollback_request()
    return render_template("public_site/unavailable.html"), 503


def current_access() -> ReporterAccess | None:
    """The reporter session of this browser, its deadline moved on; None (and the cookie
    cleared of it) when there is none."""
    value = session.get(SESSION_KEY)
    if not isinstance(value, str):
        return None
    try:
        return reporter_access(db_session(), clock(), value)
    except intake_errors.ReporterSessionEnded:
        session.pop(SESSION_KEY, None)
        return None


def form_error(form: Any, field_name: str, message: str) -> None:
    """Attach ``message`` to ``form.<field_name>`` (or to the form as a whole)."""
    field = getattr(form, field_name, None)
    if field is not None and hasattr(field, "errors"):
        if isinstance(field.errors, tuple):
            field.errors = list(field.errors)
        field.errors.append(message)
    else:
        form.form_errors.append(message)
