"""Staff account administration: list, create, edit, disable/enable, reset password.

Every rule (administrator role, division scope, no city scope from a division administrator,
no self-lockout) is checked in :mod:`core.accounts.services`; the views only choose what to
offer (a division administrator is offered their own division only).
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext
from werkzeug.wrappers.response import Response

from core.accounts import services as accounts
from core.accounts.errors import InvalidUsername, UsernameTaken
from core.accounts.models import Role, User
from core.errors import DomainError
from core.web import clock, db_session, rollback_request, settings_of
from registry.services import list_divisions
from staff_site.auth import ROLE_LABELS, current_user, login_required, roles_required
from staff_site.forms import page_status
from staff_site.forms.admin import CITY, ActionForm, NewUserForm, UserForm

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _offer_choices(form: UserForm, admin: User) -> None:
    """Roles and scopes this administrator may hand out."""
    form.roles.choices = [(r.value, str(ROLE_LABELS[r])) for r in Role]
    divisions = list_divisions(db_session())
    if admin.division_id is None:
        form.division.choices = [(CITY, gettext("Whole city"))] + [
            (str(d.id), d.name) for d in divisions
        ]
    else:
        form.division.choices = [
            (str(d.id), d.name) for d in divisions if d.id == admin.division_id
        ]


def _roles(form: UserForm) -> set[Role]:
    return {Role(v) for v in form.roles.data or []}


def _division(form: UserForm) -> int | None:
    value = form.division.data or CITY
    return None if value == CITY else int(value)


def _show_error(form: UserForm, exc: DomainError) -> None:
    """Show a refused change on the form; nothing of the attempt is kept."""
    rollback_request()
    message = gettext(exc.message, **exc.params)
    if isinstance(exc, (InvalidUsername, UsernameTaken)) and isinstance(form, NewUserForm):
        form.username.errors = [*form.username.errors, message]
    else:
        form.form_errors.append(message)


@bp.get("/users")
@login_required
@roles_required(Role.ADMINISTRATOR)
def users() -> str:
    admin = current_user()
    return render_template(
        "staff_site/admin/users.html",
        users=accounts.list_users(db_session(), admin),
        action_form=ActionForm(),
        admin=admin,
    )


@bp.route("/users/new", methods=["GET", "POST"])
@login_required
@roles_required(Role.ADMINISTRATOR)
def create_user() -> str | tuple[str, int]:
    admin = current_user()
    form = NewUserForm()
    _offer_choices(form, admin)
    if form.validate_on_submit():
        try:
            user, passphrase = accounts.add_user(
                db_session(),
                clock(),
                settings_of(),
                admin,
                username=form.username.data or "",
                display_name=form.display_name.data or "",
                roles=_roles(form),
                division_id=_division(form),
            )
        except DomainError as exc:
            _show_error(form, exc)
        else:
            # Shown in this response only (never in a redirect, a flash or a log).
            return render_template(
                "staff_site/admin/password.html", user=user, passphrase=passphrase, created=True
            ), 201
    return render_template("staff_site/admin/user_form.html", form=form, user=None), page_status(
        form
    )


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@login_required
@roles_required(Role.ADMINISTRATOR)
def edit_user(user_id: int) -> str | Response | tuple[str, int]:
    admin = current_user()
    user = accounts.get_user(db_session(), admin, user_id)
    # The current values; on POST the submitted ones take their place.
    form = UserForm(
        data={
            "display_name": user.display_name,
            "roles": sorted(r.value for r in user.role_set),
            "division": CITY if user.division_id is None else str(user.division_id),
        }
    )
    _offer_choices(form, admin)
    if form.validate_on_submit():
        try:
            accounts.update_user(
                db_session(),
                clock(),
                admin,
                user_id,
                display_name=form.display_name.data or "",
                roles=_roles(form),
                division_id=_division(form),
            )
        except DomainError as exc:
            _show_error(form, exc)
        else:
            flash(gettext("Saved the changes to %(name)s.", name=user.username))
            return redirect(url_for("admin.users"), code=303)
    return render_template(
        "staff_site/admin/user_form.html", form=form, user=user, action_form=ActionForm()
    ), page_status(form)


def _set_active(user_id: int, active: bool) -> Response:
    form = ActionForm()
    if form.validate_on_submit():
        user = accounts.set_active(db_session(), clock(), current_user(), user_id, active)
        if active:
            flash(gettext("%(name)s can log in again.", name=user.username))
        else:
            flash(gettext("%(name)s is disabled and was logged out.", name=user.username))
    return redirect(url_for("admin.users"), code=303)


@bp.post("/users/<int:user_id>/disable")
@login_required
@roles_required(Role.ADMINISTRATOR)
def disable_user(user_id: int) -> Response:
    return _set_active(user_id, False)


@bp.post("/users/<int:user_id>/enable")
@login_required
@roles_required(Role.ADMINISTRATOR)
def enable_user(user_id: int) -> Response:
    return _set_active(user_id, True)


@bp.post("/users/<int:user_id>/reset-password")
@login_required
@roles_required(Role.ADMINISTRATOR)
def reset_password(user_id: int) -> str | Response:
    form = ActionForm()
    if not form.validate_on_submit():
        return redirect(url_for("admin.users"), code=303)
    admin = current_user()
    passphrase = accounts.reset_password(db_session(), clock(), settings_of(), admin, user_id)
    user = accounts.get_user(db_session(), admin, user_id)
    # Shown in this response only (never in a redirect, a flash or a log).
    return render_template(
        "staff_site/admin/password.html", user=user, passphrase=passphrase, created=False
    )
