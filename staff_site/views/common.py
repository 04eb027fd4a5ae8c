"""What the staff pages with action forms share: one request's services, blank action forms,
running one service from a form, and putting a refusal on the form that caused it."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any, TypeVar, cast

from flask import flash, redirect
from flask_babel import gettext
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session
from werkzeug.wrappers.response import Response as BaseResponse

from core.accounts.models import User
from core.clock import Clock
from core.errors import DomainError, Forbidden, NotFound
from core.settings import Settings
from core.web import clock, db_session, rollback_request, settings_of
from staff_site.auth import current_user

F = TypeVar("F", bound=FlaskForm)


def services() -> tuple[Session, Clock, Settings]:
    """The request's session, clock and settings: the first arguments of every service."""
    return db_session(), clock(), settings_of()


def blank_form(cls: type[F], name: str) -> F:
    """An action form not submitted in this request (never bound to another form's data)."""
    return cast(F, cls(formdata=None, prefix=name))


def refused_errors(submitted: Mapping[str, FlaskForm] | None, shown: Collection[str]) -> list[str]:
    """The errors of submitted forms that are no longer on the page (the state has moved on),
    to be said on top of it."""
    return [
        str(error)
        for name, form in (submitted or {}).items()
        if name not in shown
        for errors in form.errors.values()
        for error in errors
    ]


def act(
    form: FlaskForm,
    call: Callable[[User], object],
    *,
    again: Callable[[int], tuple[str, int]],
    done: Callable[[], str],
    to: str,
) -> BaseResponse | tuple[str, int]:
    """Validate ``form`` and run ``call`` (one service) as the current user, then redirect to
    ``to`` with the ``done`` message; or, when the form or the service refuses, roll back and
    show the page again (``again(status)``) with the problem on the form. Forbidden and
    NotFound stay errors of the whole request."""
    if not form.validate_on_submit():
        return again(400)
    try:
        call(current_user())
    except (Forbidden, NotFound):
        raise
    except DomainError as exc:
        rollback_request()
        form.form_errors.append(gettext(exc.message, **exc.params))
        return again(exc.status)
    flash(done())
    return redirect(to, code=303)


def show_error(form: Any, field_name: str | None, message: str) -> None:
    """Put ``message`` on the form's field ``field_name``, or on the form when it has none."""
    field = form._fields.get(field_name) if field_name else None
    if field is not None:
        field.errors = [*field.errors, message]
    else:
        form.form_errors.append(message)


def show_domain_error(form: Any, exc: DomainError) -> None:
    """Roll the request back and show a service's refusal on the field it names (its
    ``field`` attribute), or on the form."""
    rollback_request()
    show_error(form, getattr(exc, "field", None), gettext(exc.message, **exc.params))
