"""The catalogue of judgment standards: browsing it (everyone who works with tips and cases),
uploading a version as JSON and marking a standard superseded (administrators).

The rules live in :mod:`cases.standards.services`, which checks the roles again. The filter
``say`` (registered for the whole staff app) renders a :class:`~cases.standards.services.Sentence`
in the reader's language; ``templates/staff_site/standards/_composite.html`` uses it.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from werkzeug.wrappers.response import Response as BaseResponse

from cases.standards import schema
from cases.standards import services as standards
from cases.standards.errors import BadSuccessor, InvalidStandardFile, StandardAlreadySuperseded
from cases.standards.services import READ_ROLES, Sentence
from core.accounts.models import Role
from core.web import clock, db_session, rollback_request
from staff_site.auth import current_user, login_required, roles_required
from staff_site.forms.standards import (
    DOMAIN_LABELS,
    ORIGIN_LABELS,
    SupersedeForm,
    UploadForm,
)

bp = Blueprint("standards", __name__, url_prefix="/standards")


@bp.app_template_filter("say")
def say(value: object) -> str:
    """A service's sentence in the reader's language (plain text is returned as it is)."""
    if isinstance(value, Sentence):
        params = {k: say(v) if isinstance(v, Sentence) else v for k, v in value.params.items()}
        return str(gettext(value.msgid, **params) if params else gettext(value.msgid))
    return str(value)


def _labels() -> dict[str, Any]:
    return {
        "origin_labels": ORIGIN_LABELS,
        "domain_labels": DOMAIN_LABELS,
        "place_labels": dict(standards.place_classes(gettext)),
    }


@bp.get("/")
@login_required
@roles_required(*READ_ROLES)
def index() -> str:
    user = current_user()
    return render_template(
        "staff_site/standards/index.html",
        standards=standards.browse_standards(db_session(), user),
        can_edit=user.has_role(Role.ADMINISTRATOR),
        **_labels(),
    )


def _detail_page(standard_id: int, form: SupersedeForm | None = None, status: int = 200) -> Any:
    user = current_user()
    detail = standards.standard_detail(db_session(), user, standard_id)
    only_unverified = request.args.get("unverified") == "1"
    items = [i for i in detail.items if not only_unverified or i.verification != "verified"]
    can_edit = user.has_role(Role.ADMINISTRATOR)
    if form is None and can_edit:
        form = SupersedeForm()
    page = render_template(
        "staff_site/standards/standard.html",
        detail=detail,
        standard=detail.standard,
        items=items,
        only_unverified=only_unverified,
        unverified_count=sum(1 for i in detail.items if i.verification != "verified"),
        can_edit=can_edit,
        form=form,
        **_labels(),
    )
    return page, status


@bp.get("/<int:standard_id>")
@login_required
@roles_required(*READ_ROLES)
def standard(standard_id: int) -> Any:
    return _detail_page(standard_id)


@bp.post("/<int:standard_id>/supersede")
@login_required
@roles_required(Role.ADMINISTRATOR)
def supersede(standard_id: int) -> Any:
    form = SupersedeForm()
    if not form.validate_on_submit() or form.superseded_on.data is None:
        return _detail_page(standard_id, form, 400)
    try:
        standards.mark_superseded(
            db_session(),
            clock(),
            current_user(),
            standard_id,
            superseded_on=form.superseded_on.data,
            superseded_by=form.superseded_by.data or None,
        )
    except (StandardAlreadySuperseded, BadSuccessor) as exc:
        rollback_request()
        form.form_errors.append(gettext(exc.message, **exc.params))
        return _detail_page(standard_id, form, exc.status)
    flash(gettext("The standard is now marked as superseded."))
    return redirect(url_for("standards.standard", standard_id=standard_id), code=303)


@bp.route("/upload", methods=["GET", "POST"])
@login_required
@roles_required(Role.ADMINISTRATOR)
def upload() -> Any:
    form = UploadForm()
    problems: list[tuple[str, str]] = []
    if form.validate_on_submit():
        raw = form.file.data.read(schema.FILE_MAX + 1)
        try:
            report = standards.import_catalogue(db_session(), clock(), current_user(), raw)
        except InvalidStandardFile as exc:
            rollback_request()
            problems = [(where, gettext(msgid, **params)) for where, msgid, params in exc.problems]
            form.form_errors.append(gettext(exc.message, **exc.params))
        else:
            if report.changed:
                flash(
                    gettext(
                        "Catalogue loaded: %(created)s standards added, %(updated)s updated, "
                        "%(added)s items added, %(changed)s items corrected.",
                        created=len(report.created),
                        updated=len(report.updated),
                        added=report.items_added,
                        changed=report.items_changed,
                    )
                )
            else:
                flash(gettext("The file matches the catalogue; nothing was changed."))
            if report.items_kept:
                flash(
                    gettext(
                        "%(kept)s items in the catalogue are not in the file; they were kept.",
                        kept=report.items_kept,
                    )
                )
            return redirect(url_for("standards.index"), code=303)
    status = 400 if request.method == "POST" else 200
    return render_template("staff_site/standards/upload.html", form=form, problems=problems), status


@bp.get("/catalogue.json")
@login_required
@roles_required(*READ_ROLES)
def download() -> BaseResponse:
    data = standards.export_catalogue(db_session(), current_user())
    body = schema.dump(data)
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": 'attachment; filename="standards.json"'},
    )
