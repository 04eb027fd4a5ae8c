"""The facility registry pages: the list with its filters and exports, a facility with its
tips count, cases and history, adding and editing a facility and its special equipment, the
spreadsheet import with its report, and the facility types.

Who may do what is decided by the services (:mod:`registry.services.access`); the views
choose what to offer. Every change is a POST with the CSRF token that calls one service and
redirects; a refused change shows the form again with the service's messages next to the
fields. The import answers its POST with the report page itself (importing the same file
again changes nothing, so sending the form twice does no harm).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers.response import Response as BaseResponse
from wtforms.fields.choices import SelectChoice

from cases.models import CaseState
from core.accounts.models import Role, User
from core.web import clock, db_session, rollback_request
from registry import fields as registry_fields
from registry.errors import (
    CreditCodeTaken,
    EquipmentNotFound,
    FacilityNameTaken,
    FacilityTypeCodeTaken,
    FacilityTypeEditForbidden,
    FacilityTypeNameTaken,
    ImportFileError,
    InvalidFacility,
    InvalidFacilityType,
    RegistryForbidden,
)
from registry.fields import BY_NAME, EquipmentItem, Kind
from registry.models import (
    EquipmentKind,
    Facility,
    FacilityStatus,
    FacilityTypeRecord,
    RevisionKind,
)
from registry.services import (
    FacilityFilters,
    FacilityTypeData,
    can_edit_facility_types,
    can_write_division,
    can_write_registry,
    create_facility_type,
    editing,
    exports,
    get_facility_for,
    get_facility_type,
    imports,
    list_divisions,
    list_facilities,
    list_facility_types,
    overview,
    update_facility_type,
)
from registry.services import access as registry_access
from registry.tables import MAX_BYTES
from staff_site.auth import current_user, login_required, roles_required
from staff_site.forms import page_status
from staff_site.forms.cases import CASE_STATE_LABELS
from staff_site.forms.registry import (
    ANY,
    FORM_FIELDS,
    NO,
    YES,
    EquipmentForm,
    ExportForm,
    FacilityFilterForm,
    FacilityForm,
    FacilityTypeForm,
    ImportForm,
    form_data,
    new_facility_data,
)
from staff_site.forms.triage import CATEGORY_LABELS
from staff_site.views.common import show_domain_error, show_error

bp = Blueprint("registry", __name__, url_prefix="/registry")

_FILTER_KEYS = ("q", "division", "facility_type", "status", "key")


# ---------------------------------------------------------------- template helpers


def show_value(name: str, value: Any) -> str:
    """A facility value (or a stored history value) as the page shows it, in the reader's
    language: choices and yes/no translated, "" for nothing recorded."""
    spec = BY_NAME.get(name)
    if spec is None or value is None or value == "":
        return "" if value is None else str(value)
    if spec.kind in {Kind.CHOICE, Kind.BOOL}:
        for choice in spec.choices:
            if choice.value == value or str(choice.value) == str(value):
                return str(gettext(choice.en))
        return str(value)
    if spec.kind is Kind.FLOAT and isinstance(value, float):
        return registry_fields.format_value(spec, value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _equipment_label(kind: EquipmentKind | str) -> str:
    for choice in registry_fields.EQUIPMENT_CHOICES:
        if choice.value == kind:
            return str(gettext(choice.en))
    return str(kind)


_REVISION_KINDS = {
    RevisionKind.CREATED: _l("added"),
    RevisionKind.UPDATED: _l("edited"),
    RevisionKind.IMPORTED: _l("imported"),
}
_ENCODINGS = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 (BOM)",
    "gb18030": "GBK / GB 18030",
    "utf-16": "UTF-16",
}


def _case_state_label(state: str) -> str:
    try:
        return str(CASE_STATE_LABELS[CaseState(state)])
    except (KeyError, ValueError):
        return state


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {
        "facility_value": show_value,
        "equipment_label": _equipment_label,
        "field_label": lambda name: gettext(BY_NAME[name].label) if name in BY_NAME else name,
        "type_name": _type_name,
        "category_label": lambda c: str(CATEGORY_LABELS.get(c, c)),
        "case_state_label": _case_state_label,
        "revision_kind_label": lambda k: str(_REVISION_KINDS.get(k, k)),
        "encoding_label": lambda e: _ENCODINGS.get(e, e),
    }


def _type_name(kind: FacilityTypeRecord) -> str:
    from flask_babel import get_locale

    locale = get_locale()
    if locale is not None and locale.language == "en" and kind.name_en:
        return kind.name_en
    return kind.name_zh


# ---------------------------------------------------------------- the list


def _filters(form: FacilityFilterForm) -> FacilityFilters:
    def number(value: str | None) -> int | None:
        return int(value) if value and value.isdigit() else None

    status = form.status.data or ""
    key = form.key.data or ANY
    return FacilityFilters(
        text=form.q.data or "",
        division_id=number(form.division.data),
        facility_type_id=number(form.facility_type.data),
        status=FacilityStatus(status) if status in set(FacilityStatus) else None,
        key_supervision=True if key == YES else False if key == NO else None,
    )


def _filter_choices(form: FacilityFilterForm, user: User) -> None:
    scope = registry_access.read_scope(user)
    divisions = [
        d
        for d in list_divisions(db_session(), include_inactive=True)
        if scope is registry_access.ALL_DIVISIONS or d.id == scope
    ]
    form.division.choices = [SelectChoice(ANY, gettext("Any division"))] + [
        SelectChoice(str(d.id), d.name) for d in divisions
    ]
    form.facility_type.choices = [SelectChoice(ANY, gettext("Any type"))] + [
        SelectChoice(str(t.id), _type_name(t))
        for t in list_facility_types(db_session(), include_inactive=True)
    ]


@bp.get("/")
@login_required
@roles_required(*registry_access.READ_ROLES)
def index() -> tuple[str, int]:
    user = current_user()
    form = FacilityFilterForm(formdata=request.args)
    _filter_choices(form, user)
    keep = {k: v for k, v in request.args.items() if k in _FILTER_KEYS and v}
    if not form.validate():
        page = None
        status = 400
    else:
        page = list_facilities(db_session(), user, _filters(form), page=form.page.data or 1)
        status = 200
    return render_template(
        "staff_site/registry/index.html",
        form=form,
        page=page,
        keep=keep,
        export_form=ExportForm(formdata=None, **keep),
        may_write=can_write_registry(user),
        may_edit_types=can_edit_facility_types(user),
    ), status


@bp.post("/export")
@login_required
@roles_required(*registry_access.READ_ROLES)
def export() -> Response | BaseResponse:
    user = current_user()
    form = ExportForm()
    if not form.validate_on_submit():
        flash(gettext("The export could not be made. Try again."))
        return redirect(url_for("registry.index"), code=303)
    filters_form = FacilityFilterForm(
        formdata=None, data={k: form[k].data or "" for k in _FILTER_KEYS}
    )
    exported = exports.export_facilities(
        db_session(), clock(), user, form.fmt.data, _filters(filters_form)
    )
    response = Response(exported.data, content_type=exported.content_type)
    response.headers["Content-Disposition"] = (
        f"attachment; filename={exported.filename}; filename*=UTF-8''{quote(exported.filename)}"
    )
    return response


# ---------------------------------------------------------------- a facility


@bp.get("/<int:facility_id>")
@login_required
@roles_required(*registry_access.READ_ROLES)
def facility(facility_id: int) -> str:
    user = current_user()
    session = db_session()
    found = get_facility_for(session, user, facility_id)
    return render_template(
        "staff_site/registry/facility.html",
        facility=found,
        groups=_shown_groups(found),
        overview=overview.facility_overview(session, clock(), user, found.id),
        history=editing.facility_history(session, user, found.id),
        may_write=can_write_division(user, found.division_id),
    )


def _shown_groups(found: Facility) -> list[tuple[str, list[tuple[str, str]]]]:
    """The facility's fields by group as (label, value) pairs, for the page."""
    groups: list[tuple[str, list[tuple[str, str]]]] = []
    for spec in FORM_FIELDS:
        if spec.kind in {Kind.DIVISION, Kind.FACILITY_TYPE} or spec.name in {"name", "status"}:
            continue
        if not groups or groups[-1][0] != spec.group:
            groups.append((spec.group, []))
        groups[-1][1].append((spec.label, show_value(spec.name, getattr(found, spec.name))))
    return groups


def _editing_choices(form: FacilityForm, user: User, current: Facility | None) -> None:
    session = db_session()
    divisions = [
        d
        for d in list_divisions(session, include_inactive=True)
        if (d.active and can_write_division(user, d.id))
        or (current is not None and d.id == current.division_id)
    ]
    form.division.choices = [SelectChoice(str(d.id), d.name) for d in divisions]
    kinds = [
        t
        for t in list_facility_types(session, include_inactive=True)
        if t.active or (current is not None and t.id == current.facility_type_id)
    ]
    form.facility_type.choices = [SelectChoice("", gettext("Choose a type"))] + [
        SelectChoice(str(t.id), _type_name(t)) for t in kinds
    ]


def _show_problems(form: Any, exc: InvalidFacility | CreditCodeTaken | FacilityNameTaken) -> None:
    rollback_request()
    problems = (
        [(p.field, gettext(p.message, **p.params)) for p in exc.problems]
        if isinstance(exc, InvalidFacility)
        else [(exc.field, gettext(exc.message, **exc.params))]
    )
    for name, message in problems:
        show_error(form, name, message)


_FIELD_ERRORS = (InvalidFacility, CreditCodeTaken, FacilityNameTaken)


@bp.route("/new", methods=["GET", "POST"])
@login_required
@roles_required(*registry_access.WRITE_ROLES)
def new() -> BaseResponse | tuple[str, int]:
    user = current_user()
    form = FacilityForm(data=new_facility_data())
    if user.division_id is not None and not form.is_submitted():
        form.division.data = str(user.division_id)
    _editing_choices(form, user, None)
    if form.validate_on_submit():
        try:
            created = editing.create_facility(db_session(), clock(), user, form.values())
        except _FIELD_ERRORS as exc:
            _show_problems(form, exc)
        else:
            flash(gettext("Facility %(name)s was added.", name=created.name))
            return redirect(url_for("registry.facility", facility_id=created.id), code=303)
    return render_template("staff_site/registry/edit.html", form=form, facility=None), page_status(
        form
    )


@bp.route("/<int:facility_id>/edit", methods=["GET", "POST"])
@login_required
@roles_required(*registry_access.WRITE_ROLES)
def edit(facility_id: int) -> BaseResponse | tuple[str, int]:
    user = current_user()
    found = get_facility_for(db_session(), user, facility_id)
    if not can_write_division(user, found.division_id):
        raise RegistryForbidden()
    form = FacilityForm(data=form_data(found))
    _editing_choices(form, user, found)
    if form.validate_on_submit():
        try:
            changes = editing.change_facility(db_session(), clock(), user, found, form.values())
        except _FIELD_ERRORS as exc:
            _show_problems(form, exc)
        else:
            if changes:
                flash(gettext("Facility %(name)s was saved.", name=found.name))
            else:
                flash(gettext("Nothing was changed."))
            return redirect(url_for("registry.facility", facility_id=found.id), code=303)
    return render_template("staff_site/registry/edit.html", form=form, facility=found), page_status(
        form
    )


# ---------------------------------------------------------------- special equipment


def _item(form: EquipmentForm) -> EquipmentItem:
    return EquipmentItem(
        kind=EquipmentKind(form.kind.data),
        quantity=form.quantity.data or 1,
        registration_no=form.registration_no.data or "",
        next_inspection_on=form.next_inspection_on.data,
    )


def _writable(facility_id: int) -> Facility:
    user = current_user()
    found = get_facility_for(db_session(), user, facility_id)
    if not can_write_division(user, found.division_id):
        raise RegistryForbidden()
    return found


@bp.route("/<int:facility_id>/equipment/new", methods=["GET", "POST"])
@login_required
@roles_required(*registry_access.WRITE_ROLES)
def equipment_new(facility_id: int) -> BaseResponse | tuple[str, int]:
    found = _writable(facility_id)
    form = EquipmentForm()
    if form.validate_on_submit():
        try:
            editing.add_equipment(db_session(), clock(), current_user(), found.id, _item(form))
        except InvalidFacility as exc:
            _show_problems(form, exc)
        else:
            flash(gettext("The equipment was added."))
            return redirect(url_for("registry.facility", facility_id=found.id), code=303)
    return render_template(
        "staff_site/registry/equipment.html", form=form, facility=found, piece=None
    ), page_status(form)


@bp.route("/<int:facility_id>/equipment/<int:equipment_id>/edit", methods=["GET", "POST"])
@login_required
@roles_required(*registry_access.WRITE_ROLES)
def equipment_edit(facility_id: int, equipment_id: int) -> BaseResponse | tuple[str, int]:
    found = _writable(facility_id)
    piece = next((e for e in found.equipment if e.id == equipment_id), None)
    if piece is None:
        raise EquipmentNotFound()
    form = EquipmentForm(obj=piece, data={"kind": piece.kind.value})
    if form.validate_on_submit():
        try:
            editing.update_equipment(
                db_session(), clock(), current_user(), found.id, piece.id, item=_item(form)
            )
        except InvalidFacility as exc:
            _show_problems(form, exc)
        else:
            flash(gettext("The equipment was saved."))
            return redirect(url_for("registry.facility", facility_id=found.id), code=303)
    return render_template(
        "staff_site/registry/equipment.html", form=form, facility=found, piece=piece
    ), page_status(form)


@bp.post("/<int:facility_id>/equipment/<int:equipment_id>/remove")
@login_required
@roles_required(*registry_access.WRITE_ROLES)
def equipment_remove(facility_id: int, equipment_id: int) -> BaseResponse:
    # The CSRF token is checked for every POST by CSRFProtect (core.web) before this runs.
    found = _writable(facility_id)
    editing.remove_equipment(db_session(), clock(), current_user(), found.id, equipment_id)
    flash(gettext("The equipment was removed."))
    return redirect(url_for("registry.facility", facility_id=found.id), code=303)


# ---------------------------------------------------------------- import


def _import_choices(form: ImportForm, user: User) -> None:
    divisions = [d for d in list_divisions(db_session()) if can_write_division(user, d.id)]
    blank = [] if user.division_id is not None else [SelectChoice("", gettext("None"))]
    form.default_division.choices = blank + [SelectChoice(str(d.id), d.name) for d in divisions]


@bp.route("/import", methods=["GET", "POST"])
@login_required
@roles_required(*registry_access.WRITE_ROLES)
def import_file() -> str | tuple[str, int]:
    user = current_user()
    form = ImportForm()
    _import_choices(form, user)
    if form.validate_on_submit():
        upload = form.file.data
        data = upload.stream.read(MAX_BYTES + 1)
        default = form.default_division.data
        try:
            report = imports.import_facilities(
                db_session(),
                clock(),
                user,
                data,
                filename=upload.filename or "",
                default_division=int(default) if default and default.isdigit() else None,
            )
        except ImportFileError as exc:
            rollback_request()
            form.file.errors = [*form.file.errors, gettext(exc.message, **exc.params)]
        else:
            return render_template(
                "staff_site/registry/import_report.html",
                report=report,
                filename=upload.filename or "",
                describe=lambda p: imports.describe(p, gettext),
            ), 200
    code = 400 if form.is_submitted() else 200
    return render_template(
        "staff_site/registry/import.html",
        form=form,
        headers=[(spec.header_zh, spec.label, spec.hint) for spec in registry_fields.FIELDS],
    ), code


# ---------------------------------------------------------------- facility types


@bp.get("/types/")
@login_required
@roles_required(*registry_access.READ_ROLES)
def types() -> str:
    return render_template(
        "staff_site/registry/types.html",
        kinds=list_facility_types(db_session(), include_inactive=True),
        may_edit=can_edit_facility_types(current_user()),
    )


def _type_data(form: FacilityTypeForm) -> FacilityTypeData:
    return FacilityTypeData(
        code=form.code.data or "",
        name_zh=form.name_zh.data or "",
        name_en=form.name_en.data or "",
        note=form.note.data or "",
        sort_order=form.sort_order.data if form.sort_order.data is not None else 0,
        active=bool(form.active.data),
    )


_TYPE_ERRORS = (InvalidFacilityType, FacilityTypeCodeTaken, FacilityTypeNameTaken)


def _require_type_editor() -> None:
    if not can_edit_facility_types(current_user()):
        raise FacilityTypeEditForbidden()


@bp.route("/types/new", methods=["GET", "POST"])
@login_required
@roles_required(Role.ADMINISTRATOR)
def type_new() -> BaseResponse | tuple[str, int]:
    _require_type_editor()
    form = FacilityTypeForm()
    if form.validate_on_submit():
        try:
            kind = create_facility_type(db_session(), clock(), current_user(), _type_data(form))
        except _TYPE_ERRORS as exc:
            show_domain_error(form, exc)
        else:
            flash(gettext("Facility type %(name)s was added.", name=kind.name_zh))
            return redirect(url_for("registry.types"), code=303)
    return render_template("staff_site/registry/type_edit.html", form=form, kind=None), page_status(
        form
    )


@bp.route("/types/<int:type_id>/edit", methods=["GET", "POST"])
@login_required
@roles_required(Role.ADMINISTRATOR)
def type_edit(type_id: int) -> BaseResponse | tuple[str, int]:
    _require_type_editor()
    kind = get_facility_type(db_session(), type_id)
    form = FacilityTypeForm(obj=kind)
    if form.validate_on_submit():
        try:
            update_facility_type(db_session(), clock(), current_user(), kind.id, _type_data(form))
        except _TYPE_ERRORS as exc:
            show_domain_error(form, exc)
        else:
            flash(gettext("Facility type %(name)s was saved.", name=kind.name_zh))
            return redirect(url_for("registry.types"), code=303)
    return render_template("staff_site/registry/type_edit.html", form=form, kind=kind), page_status(
        form
    )
