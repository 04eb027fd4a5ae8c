"""Divisions: the list for administrators, and adding or changing one (city scope only).

There is no delete: a division that is no longer used is deactivated (see registry.services).
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext
from werkzeug.wrappers.response import Response

from core.accounts.models import Role
from core.web import clock, db_session
from registry.errors import (
    DivisionCodeTaken,
    DivisionEditForbidden,
    DivisionNameTaken,
    InvalidDivision,
)
from registry.services import (
    DivisionData,
    can_edit_divisions,
    create_division,
    get_division,
    list_divisions,
    update_division,
)
from staff_site.auth import current_user, login_required, roles_required
from staff_site.forms import page_status
from staff_site.forms.divisions import KIND_LABELS, DivisionForm
from staff_site.views.common import show_domain_error

bp = Blueprint("divisions", __name__, url_prefix="/admin/divisions")

_FIELD_ERRORS = (InvalidDivision, DivisionNameTaken, DivisionCodeTaken)


def _data(form: DivisionForm) -> DivisionData:
    return DivisionData(
        name=form.name.data or "",
        kind=form.kind.data or "",
        name_en=form.name_en.data or "",
        code=form.code.data or None,
        management_area=form.management_area.data or "",
        sort_order=form.sort_order.data if form.sort_order.data is not None else 0,
        active=bool(form.active.data),
    )


def _require_editor() -> None:
    if not can_edit_divisions(current_user()):
        raise DivisionEditForbidden()


@bp.get("/")
@login_required
@roles_required(Role.ADMINISTRATOR)
def index() -> str:
    return render_template(
        "staff_site/divisions/index.html",
        divisions=list_divisions(db_session(), include_inactive=True),
        can_edit=can_edit_divisions(current_user()),
        kind_labels=KIND_LABELS,
    )


@bp.route("/new", methods=["GET", "POST"])
@login_required
@roles_required(Role.ADMINISTRATOR)
def new() -> Response | tuple[str, int]:
    _require_editor()
    form = DivisionForm()
    if form.validate_on_submit():
        try:
            division = create_division(db_session(), clock(), current_user(), _data(form))
        except _FIELD_ERRORS as exc:
            show_domain_error(form, exc)
        else:
            flash(gettext("Division %(name)s was added.", name=division.name))
            return redirect(url_for("divisions.index"), code=303)
    return render_template("staff_site/divisions/edit.html", form=form, division=None), page_status(
        form
    )


@bp.route("/<int:division_id>/edit", methods=["GET", "POST"])
@login_required
@roles_required(Role.ADMINISTRATOR)
def edit(division_id: int) -> Response | tuple[str, int]:
    _require_editor()
    division = get_division(db_session(), division_id)
    form = DivisionForm(obj=division)
    if form.validate_on_submit():
        try:
            update_division(db_session(), clock(), current_user(), division.id, _data(form))
        except _FIELD_ERRORS as exc:
            show_domain_error(form, exc)
        else:
            flash(gettext("Division %(name)s was saved.", name=division.name))
            return redirect(url_for("divisions.index"), code=303)
    return render_template(
        "staff_site/divisions/edit.html", form=form, division=division
    ), page_status(form)
