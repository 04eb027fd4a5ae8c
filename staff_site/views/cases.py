"""The case pages: the list, a new case, the case page with its actions, evidence files, the
printable interview and circular records, and the administrator's public examples.

Who sees and does what is decided by the services (:mod:`cases.services.access`: DESIGN.md's
role table); the views choose what to offer. Case officers in scope read and act; triage
officers read their scope; finance reads every case; supervisors read every case and escalate
overdue ones; administrators only mark public examples (and see routing facts for that).

Every action is a POST with the CSRF token that calls one service and redirects to the case
page with a flash (never a text of the case in a flash). A refused action shows the case page
again with the message on its form and the officer's input kept.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, BinaryIO, cast
from urllib.parse import quote

from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext, lazy_gettext
from flask_wtf import FlaskForm
from werkzeug.wrappers.response import Response as BaseResponse
from wtforms.fields.choices import SelectChoice

from cases import services as cases
from cases.models import CaseSource, CaseState, EnforcementKind
from cases.services.access import READ_ALL_ROLES, READ_SCOPE_ROLES
from cases.standards import services as standards
from cases.workflow import Action
from core.accounts.models import Role, User
from core.errors import DomainError, Forbidden, NotFound
from core.web import clock, db_session, rollback_request, settings_of
from intake.models import TipCategory
from registry.services import list_divisions
from staff_site.auth import current_user, login_required, roles_required
from staff_site.forms.cases import (
    ANY,
    CASE_STATE_LABELS,
    ENFORCEMENT_LABELS,
    SOURCE_LABELS,
    TIMELINE_LABELS,
    AcceptForm,
    CaseFilterForm,
    CircularForm,
    EndEnforcementForm,
    EnforcementForm,
    InterviewForm,
    NewCaseForm,
    NoteFilesForm,
    PlanForm,
    ProgressForm,
    PublicExampleForm,
    RecheckForm,
    RefuseForm,
    RelapseForm,
    SubmitForm,
)
from staff_site.views.common import act, blank_form, refused_errors

bp = Blueprint("cases", __name__, url_prefix="/cases")

READERS = (*READ_ALL_ROLES, *READ_SCOPE_ROLES)


def yuan(fen: int) -> str:
    """An amount in fen as shown: ``¥1,234.50``."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}¥{whole:,}.{cents:02d}"


@bp.context_processor
def _labels() -> dict[str, Any]:
    return {
        "case_state_labels": CASE_STATE_LABELS,
        "case_source_labels": SOURCE_LABELS,
        "enforcement_labels": ENFORCEMENT_LABELS,
        "timeline_labels": TIMELINE_LABELS,
        "place_class_labels": dict(standards.place_classes(lazy_gettext)),
        "yuan": yuan,
        "CaseState": CaseState,
        "Action": Action,
    }


def _division_names() -> dict[int, str]:
    return {d.id: d.name for d in list_divisions(db_session(), include_inactive=True)}


def _sees_every_division(user: User) -> bool:
    return user.division_id is None or user.has_role(*READ_ALL_ROLES)


# ---------------------------------------------------------------- the list


@bp.get("/")
@login_required
@roles_required(*READERS)
def index() -> str | tuple[str, int]:
    user = current_user()
    form = CaseFilterForm(formdata=request.args)
    names = _division_names()
    city_wide = _sees_every_division(user)
    if city_wide:
        form.division.choices = [SelectChoice(ANY, gettext("Any division"))] + [
            SelectChoice(str(i), name) for i, name in names.items()
        ]
    else:
        form.division.choices = [SelectChoice(ANY, names.get(user.division_id or 0, "?"))]
    keep = {k: v for k, v in request.args.items() if k != "page" and v}
    if not form.validate():
        return render_template(
            "staff_site/cases/list.html", form=form, page=None, names=names, keep=keep,
            city_wide=city_wide, may_open=False,
        ), 400  # fmt: skip
    filters = cases.CaseFilters(
        state=CaseState(form.state.data) if form.state.data else None,
        division_id=int(form.division.data) if form.division.data else None,
        overdue=bool(form.overdue.data),
    )
    page = cases.list_cases(db_session(), clock(), user, filters, page=form.page.data or 1)
    return render_template(
        "staff_site/cases/list.html",
        form=form,
        page=page,
        names=names,
        keep=keep,
        city_wide=city_wide,
        may_open=user.has_role(Role.CASE_OFFICER),
    )


# ---------------------------------------------------------------- a new case


def _item_choices() -> list[SelectChoice]:
    return [
        SelectChoice(item.code, f"{item.code} {item.text}")
        for item in standards.list_items(db_session(), include_superseded=True)
    ]


def _place_choices() -> list[SelectChoice]:
    return [SelectChoice(ANY, gettext("Not given"))] + [
        SelectChoice(value, label) for value, label in standards.place_classes(lazy_gettext)
    ]


@bp.route("/new", methods=["GET", "POST"])
@login_required
@roles_required(Role.CASE_OFFICER)
def new() -> str | tuple[str, int] | BaseResponse:
    user = current_user()
    form = NewCaseForm()
    names = _division_names()
    form.division.choices = [
        SelectChoice(str(i), name)
        for i, name in names.items()
        if user.division_id is None or i == user.division_id
    ]
    form.standard_items.choices = _item_choices()
    form.place_class.choices = _place_choices()
    status = 200
    if form.is_submitted():
        status = 400
        if form.validate():
            data = cases.NewCase(
                source=CaseSource(form.source.data),
                division_id=int(form.division.data or 0),
                facility_id=form.facility.data,
                category=TipCategory(form.category.data),
                discovered_on=form.discovered_on.data,
                standard_items=form.items(),
                description=form.description.data or "",
                place_class=form.place_class.data or None,
                deadline=form.deadline.data,
            )
            try:
                case_id = cases.open_case(db_session(), clock(), settings_of(), user, data)
            except (Forbidden, NotFound):
                raise
            except DomainError as exc:
                rollback_request()
                form.form_errors.append(gettext(exc.message, **exc.params))
                status = exc.status
            else:
                flash(gettext("The hazard case is opened."))
                return redirect(url_for("cases.case", case_id=case_id), code=303)
    return render_template(
        "staff_site/cases/new.html",
        form=form,
        items_selected=form.items(),
        catalogue=standards.list_items(db_session(), include_superseded=True),
    ), status


# ---------------------------------------------------------------- the case page


#: name → (form class, the workflow action that offers it; None: escalation / always)
_FORMS: dict[str, tuple[type[FlaskForm], Action | None]] = {
    "plan": (PlanForm, Action.PLAN),
    "progress": (ProgressForm, Action.PROGRESS),
    "enforce": (EnforcementForm, Action.ENFORCE),
    "end_enforcement": (EndEnforcementForm, Action.LIFT),
    "submit": (SubmitForm, Action.SUBMIT),
    "refuse": (RefuseForm, Action.REFUSE),
    "accept": (AcceptForm, Action.ACCEPT),
    "recheck": (RecheckForm, Action.RECHECK_OK),
    "relapse": (RelapseForm, Action.RELAPSE),
    "interview": (InterviewForm, None),
    "circular": (CircularForm, None),
}


def _shown(view: cases.CaseView) -> set[str]:
    """The forms to show this reader now (the services check again)."""
    may = view.may
    shown = {name for name, (_, action) in _FORMS.items() if action in may.actions}
    if not may.accept:
        shown -= {"refuse", "accept"}
    if may.escalate and view.overdue:
        shown |= {"interview", "circular"}
    return shown


def _case_page(
    case_id: uuid.UUID, submitted: dict[str, FlaskForm] | None = None, status: int = 200
) -> tuple[str, int]:
    user = current_user()
    session = db_session()
    view = cases.case_view(session, clock(), user, case_id)
    forms = {name: blank_form(cls, name) for name, (cls, _) in _FORMS.items()}
    forms.update(submitted or {})
    shown = _shown(view)
    refused = refused_errors(submitted, shown)
    composite = standards.evaluate_composite(
        session, view.case.standard_items, view.case.place_class, translate=gettext
    )
    items = {
        item.code: item
        for item in standards.list_items(session, include_superseded=True)
        if item.code in set(view.case.standard_items)
    }
    return render_template(
        "staff_site/cases/case.html",
        view=view,
        case=view.case,
        forms=forms,
        shown=shown,
        refused=refused,
        composite=composite,
        items=items,
        user=user,
        may_see_tip=user.active and user.has_role(Role.TRIAGE_OFFICER),
    ), status


@bp.get("/<uuid:case_id>")
@login_required
@roles_required(*READERS)
def case(case_id: uuid.UUID) -> tuple[str, int]:
    return _case_page(case_id)


def _act(
    case_id: uuid.UUID,
    name: str,
    form: FlaskForm,
    call: Callable[[User], object],
    *,
    done: Callable[[], str],
    anchor: str = "",
) -> BaseResponse | tuple[str, int]:
    """Run one service from ``form``; the case page again with the problem on the form."""
    return act(
        form,
        call,
        again=lambda status: _case_page(case_id, {name: form}, status),
        done=done,
        to=url_for("cases.case", case_id=case_id, _anchor=anchor or None),
    )


def _uploads(form: NoteFilesForm) -> list[cases.Upload]:
    return [
        cases.Upload(f.filename or "", cast(BinaryIO, f.stream))
        for f in request.files.getlist(form.files.name)
        if f is not None
    ]


def _note_action(
    case_id: uuid.UUID,
    name: str,
    form: NoteFilesForm,
    service: Callable[..., object],
    done: Callable[[], str],
    **extra: Callable[[], object],
) -> BaseResponse | tuple[str, int]:
    return _act(
        case_id,
        name,
        form,
        lambda user: service(
            db_session(),
            clock(),
            settings_of(),
            user,
            case_id,
            note=form.note.data or "",
            files=_uploads(form),
            **{key: value() for key, value in extra.items()},
        ),
        done=done,
        anchor="timeline",
    )


@bp.post("/<uuid:case_id>/plan")
@login_required
@roles_required(Role.CASE_OFFICER)
def plan(case_id: uuid.UUID) -> BaseResponse | tuple[str, int]:
    form = PlanForm(prefix="plan")
    return _act(
        case_id,
        "plan",
        form,
        lambda user: cases.submit_plan(
            db_session(),
            clock(),
            settings_of(),
            user,
            case_id,
            plan=cases.PlanData(
                responsibility=form.responsibility.data or "",
                measures=form.measures.data or "",
                funds_fen=form.funds_fen(),
                deadline=form.deadline.data,
                contingency_plan=form.contingency_plan.data or "",
            ),
        ),
        done=lambda: gettext("The rectification plan is recorded."),
        anchor="plan",
    )


@bp.post("/<uuid:case_id>/progress")
@login_required
@roles_required(Role.CASE_OFFICER)
def progress(case_id: uuid.UUID) -> BaseResponse | tuple[str, int]:
    return _note_action(
        case_id,
        "progress",
        ProgressForm(prefix="progress"),
        cases.add_progress,
        lambda: gettext("The progress update is recorded."),
    )


@bp.post("/<uuid:case_id>/enforcement")
@login_required
@roles_required(Role.CASE_OFFICER)
def enforce(case_id: uuid.UUID) -> BaseResponse | tuple[str, int]:
    form = EnforcementForm(prefix="enforce")
    return _act(
        case_id,
        "enforce",
        form,
        lambda user: cases.add_enforcement(
            db_session(),
            clock(),
            settings_of(),
            user,
            case_id,
            data=cases.EnforcementData(
                kind=EnforcementKind(form.kind.data),
                target=form.target.data or "",
                start_on=form.start_on.data,
                end_on=form.end_on.data,
                note=form.note.data or "",
            ),
        ),
        done=lambda: gettext("The enforcement measure is recorded."),
        anchor="enforcement",
    )


@bp.post("/<uuid:case_id>/enforcement/<int:measure_id>/end")
@login_required
@roles_required(Role.CASE_OFFICER)
def end_enforcement(case_id: uuid.UUID, measure_id: int) -> BaseResponse | tuple[str, int]:
    form = EndEnforcementForm(prefix="end_enforcement")
    return _act(
        case_id,
        "end_enforcement",
        form,
        lambda user: cases.end_enforcement(
            db_session(),
            clock(),
            settings_of(),
            user,
            case_id,
            measure_id=measure_id,
            end_on=form.end_on.data,
        ),
        done=lambda: gettext("The end of the enforcement measure is recorded."),
        anchor="enforcement",
    )


@bp.post("/<uuid:case_id>/submit")
@login_required
@roles_required(Role.CASE_OFFICER)
def submit(case_id: uuid.UUID) -> BaseResponse | tuple[str, int]:
    return _note_action(
        case_id,
        "submit",
        SubmitForm(prefix="submit"),
        cases.submit_for_acceptance,
        lambda: gettext("The case is submitted for acceptance by another officer."),
    )


@bp.post("/<uuid:case_id>/refuse")
@login_required
@roles_required(Role.CASE_OFFICER)
def refuse(case_id: uuid.UUID) -> BaseResponse | tuple[str, int]:
    return _note_action(
        case_id,
        "refuse",
        RefuseForm(prefix="refuse"),
        cases.refuse_acceptance,
        lambda: gettext("The acceptance did not pass; the case is back in rectification."),
    )


@bp.post("/<uuid:case_id>/accept")
@login_required
@roles_required(Role.CASE_OFFICER)
def accept(case_id: uuid.UUID) -> BaseResponse | tuple[str, int]:
    return _note_action(
        case_id,
        "accept",
        AcceptForm(prefix="accept"),
        cases.accept,
        lambda: gettext("The rectification is accepted and the case is closed."),
    )


@bp.post("/<uuid:case_id>/recheck")
@login_required
@roles_required(Role.CASE_OFFICER)
def recheck(case_id: uuid.UUID) -> BaseResponse | tuple[str, int]:
    return _note_action(
        case_id,
        "recheck",
        RecheckForm(prefix="recheck"),
        cases.recheck_ok,
        lambda: gettext("The re-check is recorded: the hazard stays cleared."),
    )


@bp.post("/<uuid:case_id>/relapse")
@login_required
@roles_required(Role.CASE_OFFICER)
def relapse(case_id: uuid.UUID) -> BaseResponse | tuple[str, int]:
    form = RelapseForm(prefix="relapse")
    return _note_action(
        case_id,
        "relapse",
        form,
        cases.relapse,
        lambda: gettext("The relapse is recorded; the case is back in rectification."),
        deadline=lambda: form.deadline.data,
    )


@bp.get("/<uuid:case_id>/evidence/<uuid:evidence_id>")
@login_required
@roles_required(*READERS)
def evidence(case_id: uuid.UUID, evidence_id: uuid.UUID) -> Response:
    """An evidence file: photos inline, anything else as a download; ``nosniff`` and the CSP
    come with every response."""
    found = cases.read_evidence(db_session(), current_user(), case_id, evidence_id)
    response = Response(found.data, mimetype=found.media_type)
    disposition = "inline" if found.inline else "attachment"
    ascii_name = f"evidence-{evidence_id.hex[:12]}.{found.filename.rsplit('.', 1)[-1]}"
    response.headers["Content-Disposition"] = (
        f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(found.filename)}"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# ---------------------------------------------------------------- escalation


@bp.post("/<uuid:case_id>/interviews")
@login_required
@roles_required(Role.SUPERVISOR)
def interview(case_id: uuid.UUID) -> BaseResponse | tuple[str, int]:
    form = InterviewForm(prefix="interview")
    return _act(
        case_id,
        "interview",
        form,
        lambda user: cases.record_interview(
            db_session(),
            clock(),
            settings_of(),
            user,
            case_id,
            data=cases.InterviewData(
                held_on=form.held_on.data,
                conducted_by=form.conducted_by.data or "",
                interviewee=form.interviewee.data or "",
                attendees=form.attendees.data or "",
                content=form.content.data or "",
                commitments=form.commitments.data or "",
            ),
        ),
        done=lambda: gettext("The interview is recorded."),
        anchor="escalation",
    )


@bp.post("/<uuid:case_id>/circulars")
@login_required
@roles_required(Role.SUPERVISOR)
def circular(case_id: uuid.UUID) -> BaseResponse | tuple[str, int]:
    form = CircularForm(prefix="circular")
    return _act(
        case_id,
        "circular",
        form,
        lambda user: cases.record_circular(
            db_session(),
            clock(),
            settings_of(),
            user,
            case_id,
            data=cases.CircularData(
                number=form.number.data or "",
                issued_on=form.issued_on.data,
                scope=form.scope.data or "",
                text=form.text.data or "",
            ),
        ),
        done=lambda: gettext("The circular is recorded."),
        anchor="escalation",
    )


def _print_context(case_id: uuid.UUID) -> dict[str, Any]:
    session = db_session()
    view = cases.case_view(session, clock(), current_user(), case_id)
    return {"view": view, "case": view.case}


@bp.get("/<uuid:case_id>/interviews/<int:record_id>")
@login_required
@roles_required(*READERS)
def interview_print(case_id: uuid.UUID, record_id: int) -> str:
    _, row = cases.interview_for(db_session(), current_user(), case_id, record_id)
    return render_template(
        "staff_site/cases/print_interview.html", record=row, **_print_context(case_id)
    )


@bp.get("/<uuid:case_id>/circulars/<int:record_id>")
@login_required
@roles_required(*READERS)
def circular_print(case_id: uuid.UUID, record_id: int) -> str:
    _, row = cases.circular_for(db_session(), current_user(), case_id, record_id)
    return render_template(
        "staff_site/cases/print_circular.html", record=row, **_print_context(case_id)
    )


@bp.get("/print.css")
def print_css() -> Response:
    """The stylesheet of the printable records (a file of this blueprint's templates, so the
    CSP's ``style-src 'self'`` allows it; no data in it)."""
    body = render_template("staff_site/cases/print.css")
    return Response(body, mimetype="text/css")


# ---------------------------------------------------------------- public examples


@bp.get("/public-examples")
@login_required
@roles_required(Role.ADMINISTRATOR)
def public_examples() -> str:
    page_number = request.args.get("page", "1")
    page = int(page_number) if page_number.isdigit() else 1
    items, page, pages = cases.public_candidates(db_session(), current_user(), page=page)
    forms = {}
    for item in items:
        form = PublicExampleForm(formdata=None, prefix=f"public-{item.id.hex}")
        form.public.data = item.public_example
        form.summary.data = item.public_summary
        forms[item.id] = form
    return render_template(
        "staff_site/cases/public_examples.html",
        items=items,
        forms=forms,
        page=page,
        pages=pages,
        names=_division_names(),
    )


@bp.post("/<uuid:case_id>/public-example")
@login_required
@roles_required(Role.ADMINISTRATOR)
def public_example(case_id: uuid.UUID) -> BaseResponse:
    """Mark or unmark a public example (from the administrator's list)."""
    form = PublicExampleForm(prefix=f"public-{case_id.hex}")
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(str(error))
        return redirect(url_for("cases.public_examples"), code=303)
    try:
        cases.set_public_example(
            db_session(),
            clock(),
            settings_of(),
            current_user(),
            case_id,
            public=bool(form.public.data),
            summary=form.summary.data or "",
        )
    except (Forbidden, NotFound):
        raise
    except DomainError as exc:
        rollback_request()
        flash(gettext(exc.message, **exc.params))
    else:
        flash(gettext("The public example setting is saved."))
    return redirect(url_for("cases.public_examples", _anchor=f"case-{case_id}"), code=303)
