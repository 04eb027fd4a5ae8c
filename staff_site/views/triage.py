"""The triage pages: the queue, the tip page with its actions, and attachments.

Who sees what is decided by the services (``triage.services.common``: DESIGN.md's role table);
the views choose what to offer. Triage officers in scope read a tip decrypted (each read
audited by :func:`triage.services.open_tip`) and act on it; supervisors see the queue and a
tip's metadata and history, never its content, and have no actions.

Every action is a POST with the CSRF token that calls one service and redirects to the tip
page with a flash (no text of the tip ever goes into a flash: the flash lives in the cookie).
A refused action (a domain error) shows the tip page again with the message on the form and
the officer's input kept. Forbidden and not-found go to the central error page.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from flask import (
    Blueprint,
    Response,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.wrappers.response import Response as BaseResponse
from wtforms.fields.choices import SelectChoice

from cases import services as cases
from cases.models import HazardCase
from core.accounts.models import Role, User
from core.clock import SHANGHAI, local
from core.errors import DomainError, Forbidden, NotFound
from core.keys.errors import NoPersonalKey
from core.web import clock, db_session, rollback_request, settings_of
from intake import media
from intake.models import CONCLUDED_STATES, Channel, NotAcceptedReason, TipCategory, TipState
from intake.wechat import photos as wechat_photos
from registry.services import list_divisions
from staff_site.auth import current_user, login_required, personal_key, roles_required
from staff_site.forms.triage import (
    ALL,
    ANY,
    AUTHOR_LABELS,
    CATEGORY_LABELS,
    CHANNEL_LABELS,
    NOT_ACCEPTED_LABELS,
    OPEN,
    OPEN_STATES,
    RELATIONSHIP_LABELS,
    STATE_LABELS,
    ActionForm,
    CaseForm,
    ConcludeForm,
    DuplicateForm,
    ExtendForm,
    NotAcceptForm,
    NoteForm,
    QuestionForm,
    QueueFilterForm,
    TransferForm,
    reason_label,
)
from staff_site.views.common import act, blank_form, refused_errors, services
from triage import services as triage
from triage.deadlines import end_of_day_after, last_day
from triage.errors import BadCursor, NoTipKey
from triage.services.common import metadata_scope
from triage.workflow import Action

bp = Blueprint("triage", __name__, url_prefix="/triage")

PAGE_SIZE = 50


#: What a detected file kind is served as; only these images are shown inline.
_CONTENT_TYPES: dict[media.FileKind, str] = {
    media.FileKind.JPEG: "image/jpeg",
    media.FileKind.PNG: "image/png",
    media.FileKind.WEBP: "image/webp",
    media.FileKind.HEIC: "image/heic",
    media.FileKind.PDF: "application/pdf",
    media.FileKind.MP4: "video/mp4",
    media.FileKind.DOCX: (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    ),
    media.FileKind.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_INLINE = frozenset({media.FileKind.JPEG, media.FileKind.PNG, media.FileKind.WEBP})
_POSITIVE = frozenset({TipState.SUBSTANTIATED, TipState.PARTLY_SUBSTANTIATED})


# ---------------------------------------------------------------- template helpers


@bp.app_template_filter("shanghai")
def shanghai_time(value: dt.datetime | None) -> str:
    """A stored UTC time as shown on screen (Asia/Shanghai)."""
    return "" if value is None else local(value).strftime("%Y-%m-%d %H:%M")


@bp.app_template_filter("last_day")
def last_day_filter(value: dt.datetime | None) -> str:
    """A deadline (the local midnight after its last day) as the date of that last day."""
    return "" if value is None else last_day(value).isoformat()


@bp.app_context_processor
def _labels() -> dict[str, Any]:
    return {
        "state_labels": STATE_LABELS,
        "category_labels": CATEGORY_LABELS,
        "channel_labels": CHANNEL_LABELS,
        "not_accepted_labels": NOT_ACCEPTED_LABELS,
        "relationship_labels": RELATIONSHIP_LABELS,
        "author_labels": AUTHOR_LABELS,
        "reason_label": reason_label,
    }


# ---------------------------------------------------------------- the queue


def _filters(form: QueueFilterForm) -> triage.QueueFilters:
    state = form.state.data or OPEN
    states: frozenset[TipState]
    if state == OPEN:
        states = OPEN_STATES
    elif state == ALL:
        states = frozenset()
    else:
        states = frozenset({TipState(state)})
    due_before = None
    if form.due_before.data is not None:
        # "Due by D": the last day is D or earlier. A deadline is stored as the local midnight
        # after its last day, so it is at most midnight(D + 1); the service compares with <.
        midnight = dt.datetime.combine(
            form.due_before.data + dt.timedelta(days=1), dt.time(0), tzinfo=SHANGHAI
        )
        due_before = midnight.astimezone(dt.UTC) + dt.timedelta(seconds=1)
    return triage.QueueFilters(
        states=states,
        division_id=int(form.division.data) if form.division.data else None,
        category=TipCategory(form.category.data) if form.category.data else None,
        channel=Channel(form.channel.data) if form.channel.data else None,
        due_before=due_before,
        overdue=bool(form.overdue.data),
        unanswered=bool(form.unanswered.data),
    )


@bp.get("/")
@login_required
@roles_required(Role.TRIAGE_OFFICER, Role.SUPERVISOR)
def queue() -> str | tuple[str, int]:
    user = current_user()
    form = QueueFilterForm(formdata=request.args)
    divisions = list_divisions(db_session(), include_inactive=True)
    names = {d.id: d.name for d in divisions}
    city_wide = metadata_scope(user) is None
    if city_wide:
        form.division.choices = [SelectChoice(ANY, gettext("Any division"))] + [
            SelectChoice(str(d.id), d.name) for d in divisions
        ]
    else:
        form.division.choices = [SelectChoice(ANY, names.get(user.division_id or 0, "?"))]
    keep = {k: v for k, v in request.args.items() if k != "cursor" and v}
    if not form.validate():
        return render_template(
            "staff_site/triage/queue.html",
            form=form,
            page=None,
            counts=None,
            names=names,
            city_wide=city_wide,
            keep=keep,
            cursor=None,
            problem=None,
        ), 400
    filters = _filters(form)
    sort = triage.QueueSort(form.sort.data or triage.QueueSort.NEWEST)
    cursor = request.args.get("cursor") or None
    problem = None
    session, now_clock = db_session(), clock()
    try:
        page = triage.queue(
            session, now_clock, user, filters, sort=sort, cursor=cursor, limit=PAGE_SIZE
        )
    except BadCursor as exc:
        problem = gettext(exc.message)
        cursor = None
        page = triage.queue(session, now_clock, user, filters, sort=sort, limit=PAGE_SIZE)
    # The counts cover the officer's scope and the division filter only: with the other
    # filters a count reads the table rows, not just the state index (at a million tips,
    # hundreds of ms instead of a few; see bench/triage.py).
    counts = triage.queue_counts(
        session,
        now_clock,
        user,
        triage.QueueFilters(division_id=filters.division_id),
        states=OPEN_STATES,
    )
    return render_template(
        "staff_site/triage/queue.html",
        form=form,
        page=page,
        counts=[(s, counts[s]) for s in TipState if s in OPEN_STATES],
        names=names,
        city_wide=city_wide,
        keep=keep,
        cursor=cursor,
        problem=problem,
        may_read=user.has_role(Role.TRIAGE_OFFICER),
    )


# ---------------------------------------------------------------- the tip page


def _offered(opened: triage.TriageTip, now: dt.datetime, objection_days: int) -> dict[str, Any]:
    """Which action forms to show: the transition table's actions from the tip's state, less
    what the service's own guards would refuse now (the services check again)."""
    overview = opened.overview
    state = overview.item.state
    actions = {a.value for a in opened.actions} - {Action.OBJECT.value}
    close_after = None
    if Action.EXTEND_VERIFICATION.value in actions and (
        overview.extension_days is not None
        or overview.verification_due_at is None
        or now >= overview.verification_due_at
    ):
        actions.discard(Action.EXTEND_VERIFICATION.value)
    if Action.CLOSE.value in actions:
        window_end = None
        if state in CONCLUDED_STATES:
            window_end = overview.objection_due_at
        elif state in {TipState.NOT_ACCEPTED, TipState.TRANSFERRED} and overview.decided_at:
            window_end = end_of_day_after(overview.decided_at, objection_days)
        if window_end is not None and now < window_end:
            actions.discard(Action.CLOSE.value)
            close_after = last_day(window_end)
    outcome = overview.recheck_outcome or overview.conclusion
    return {
        "actions": actions,
        "close_after": close_after,
        "ask": state is not TipState.CLOSED,
        "case": outcome in _POSITIVE and state is not TipState.RECHECKING,
    }


def _tip_page(
    tip_id: uuid.UUID,
    submitted: dict[str, FlaskForm] | None = None,
    status: int = 200,
    notice: str | None = None,
) -> tuple[str, int]:
    user = current_user()
    session, now_clock, settings = db_session(), clock(), settings_of()
    opened: triage.TriageTip | None = None
    no_key: str | None = None
    if user.active and user.has_role(Role.TRIAGE_OFFICER):
        try:
            opened = triage.open_tip(
                session, now_clock, settings, user, tip_id, personal_key=personal_key()
            )
        except (NoTipKey, NoPersonalKey) as exc:
            no_key = gettext(exc.message)
        except Forbidden:
            if not user.has_role(Role.SUPERVISOR):
                raise
    overview = opened.overview if opened else triage.tip_overview(session, now_clock, user, tip_id)
    offered: dict[str, Any] = {"actions": set(), "ask": False, "case": False, "close_after": None}
    suggestions: list[triage.QueueItem] = []
    case_id = None
    forms: dict[str, FlaskForm] = {}
    if opened is not None:
        offered = _offered(opened, now_clock.now(), settings.objection_days)
        if Action.MARK_DUPLICATE.value in offered["actions"]:
            suggestions = triage.duplicate_suggestions(session, now_clock, settings, user, tip_id)
        if offered["case"]:
            # Loading: the case this tip opened, if any (so the form is not offered twice).
            case_id = session.scalar(select(HazardCase.id).where(HazardCase.tip_id == tip_id))
        forms = {
            "accept": blank_form(ActionForm, "accept"),
            "not_accept": blank_form(NotAcceptForm, "not_accept"),
            "transfer": blank_form(TransferForm, "transfer"),
            "start_verification": blank_form(ActionForm, "start_verification"),
            "extend_verification": blank_form(ExtendForm, "extend_verification"),
            "conclude": blank_form(ConcludeForm, "conclude"),
            "conclude_recheck": blank_form(ConcludeForm, "conclude_recheck"),
            "close": blank_form(ActionForm, "close"),
            "mark_duplicate": blank_form(DuplicateForm, "mark_duplicate"),
            "ask": blank_form(QuestionForm, "ask"),
            "note": blank_form(NoteForm, "note"),
            "case": blank_form(CaseForm, "case"),
            **(submitted or {}),
        }
    shown = set(offered["actions"]) | {"note"}
    shown |= {"ask"} if offered["ask"] else set()
    shown |= {"case"} if offered["case"] and case_id is None else set()
    # A refused step whose form is not on the page (the state has moved on): say why on top.
    refused = refused_errors(submitted, shown)
    return render_template(
        "staff_site/triage/tip.html",
        refused=refused,
        overview=overview,
        item=overview.item,
        opened=opened,
        no_key=no_key,
        offered=offered,
        suggestions=suggestions,
        case_id=case_id,
        forms=forms,
        division=_division_name(overview.item.division_id),
        extension_max=settings.extension_max_days,
        notice=notice,
        user=user,
        wechat_photos=wechat_photos.tip_photos(session, user, tip_id) if opened else [],
    ), status


def _division_name(division_id: int) -> str:
    names = {d.id: d.name for d in list_divisions(db_session(), include_inactive=True)}
    return names.get(division_id, "?")


@bp.get("/tips/<uuid:tip_id>")
@login_required
@roles_required(Role.TRIAGE_OFFICER, Role.SUPERVISOR)
def tip(tip_id: uuid.UUID) -> tuple[str, int]:
    return _tip_page(tip_id)


@bp.get("/tips/<uuid:tip_id>/attachments/<uuid:attachment_id>")
@login_required
@roles_required(Role.TRIAGE_OFFICER)
def attachment(tip_id: uuid.UUID, attachment_id: uuid.UUID) -> Response:
    """An attachment, decrypted as it streams (each read audited by the service). The kind is
    recognised from the content, as intake did: JPEG, PNG and WebP are shown inline, anything
    else is a download; ``nosniff`` and the CSP come with every response.

    The request's transaction (with the audit record) is committed when the view returns, and
    Flask's teardown closes the request's session then, before the body is sent. The chunks
    after the first are read while the body streams, on that session, each in a transaction of
    its own that ends before the chunk goes to the client: no lock (on SQLite, BEGIN IMMEDIATE
    is a write lock) is held while a slow client reads, and the session is closed when the
    stream ends or the client goes away. (Before, the reads after the teardown opened a
    transaction that nothing ended: every writer waited for the garbage collector.)"""
    session = db_session()
    chunks = triage.read_attachment(
        session,
        clock(),
        settings_of(),
        current_user(),
        tip_id,
        attachment_id=attachment_id,
        personal_key=personal_key(),
    )
    first = next(chunks, b"")
    kind = media.detect(first)
    content_type = _CONTENT_TYPES.get(kind, "application/octet-stream") if kind else None
    extension = kind.value if kind else "bin"
    name = f"qingling-{attachment_id.hex[:12]}.{'jpg' if extension == 'jpeg' else extension}"

    def body() -> Iterator[bytes]:
        try:
            yield first
            for chunk in chunks:
                session.rollback()  # a read-only transaction: end it before the client waits
                yield chunk
        finally:
            session.close()

    response = Response(body(), mimetype=content_type or "application/octet-stream")
    disposition = "inline" if kind in _INLINE else "attachment"
    response.headers["Content-Disposition"] = f'{disposition}; filename="{name}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/tips/<uuid:tip_id>/wechat-photos/<uuid:photo_id>")
@login_required
@roles_required(Role.TRIAGE_OFFICER)
def wechat_photo(tip_id: uuid.UUID, photo_id: uuid.UUID) -> Response:
    """A photo sent over WeChat, decrypted with its own key (each read audited by the service);
    stored photos were re-encoded without metadata, so they are shown inline."""
    opened = wechat_photos.read_photo(
        db_session(),
        clock(),
        settings_of(),
        current_user(),
        tip_id,
        photo_id=photo_id,
        personal_key=personal_key(),
    )
    response = Response(opened.data, mimetype=opened.content_type)
    extension = {"image/png": "png", "image/webp": "webp"}.get(opened.content_type, "jpg")
    response.headers["Content-Disposition"] = (
        f'inline; filename="qingling-{photo_id.hex[:12]}.{extension}"'
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# ---------------------------------------------------------------- actions


def _act(
    tip_id: uuid.UUID,
    name: str,
    form: FlaskForm,
    call: Callable[[User], object],
    *,
    done: Callable[[], str],
    anchor: str = "",
) -> BaseResponse | tuple[str, int]:
    """Run one service from ``form``; the tip page again with the problem on the form."""
    return act(
        form,
        call,
        again=lambda status: _tip_page(tip_id, {name: form}, status),
        done=done,
        to=url_for("triage.tip", tip_id=tip_id, _anchor=anchor or None),
    )


@bp.post("/tips/<uuid:tip_id>/accept")
@login_required
@roles_required(Role.TRIAGE_OFFICER)
def accept(tip_id: uuid.UUID) -> BaseResponse | tuple[str, int]:
    return _act(
        tip_id,
        "accept",
        ActionForm(prefix="accept"),
        lambda user: triage.accept(*services(), user, tip_id),
        done=lambda: gettext("The report is accepted."),
    )


@bp.post("/tips/<uuid:tip_id>/not-accept")
@login_required
@roles_required(Role.TRIAGE_OFFICER)
def not_accept(tip_id: uuid.UUID) -> BaseResponse | tuple[str, int]:
    form = NotAcceptForm(prefix="not_accept")
    return _act(
        tip_id,
        "not_accept",
        form,
        lambda user: triage.not_accept(
            *services(),
            user,
            tip_id,
            personal_key=personal_key(),
            reason=NotAcceptedReason(form.reason.data),
            text=form.text.data or "",
        ),
        done=lambda: gettext("The report is not accepted; the reporter can read why."),
    )


@bp.post("/tips/<uuid:tip_id>/transfer")
@login_required
@roles_required(Role.TRIAGE_OFFICER)
def transfer(tip_id: uuid.UUID) -> BaseResponse | tuple[str, int]:
    form = TransferForm(prefix="transfer")
    return _act(
        tip_id,
        "transfer",
        form,
        lambda user: triage.transfer(
            *services(),
            user,
            tip_id,
            personal_key=personal_key(),
            regulator=form.regulator.data or "",
            note=form.note.data or "",
        ),
        done=lambda: gettext("The report is transferred to %(name)s.", name=form.regulator.data),
    )


@bp.post("/tips/<uuid:tip_id>/start-verification")
@login_required
@roles_required(Role.TRIAGE_OFFICER)
def start_verification(tip_id: uuid.UUID) -> BaseResponse | tuple[str, int]:
    return _act(
        tip_id,
        "start_verification",
        ActionForm(prefix="start_verification"),
        lambda user: triage.start_verification(*services(), user, tip_id),
        done=lambda: gettext("Verification has started; the deadline is set."),
    )


@bp.post("/tips/<uuid:tip_id>/extend")
@login_required
@roles_required(Role.TRIAGE_OFFICER)
def extend_verification(tip_id: uuid.UUID) -> BaseResponse | tuple[str, int]:
    form = ExtendForm(prefix="extend_verification")
    return _act(
        tip_id,
        "extend_verification",
        form,
        lambda user: triage.extend_verification(
            *services(),
            user,
            tip_id,
            personal_key=personal_key(),
            days=form.days.data or 0,
            reason=form.reason.data or "",
        ),
        done=lambda: gettext("The verification deadline is extended."),
    )


@bp.post("/tips/<uuid:tip_id>/conclude")
@login_required
@roles_required(Role.TRIAGE_OFFICER)
def conclude(tip_id: uuid.UUID) -> BaseResponse | tuple[str, int]:
    form = ConcludeForm(prefix="conclude")
    return _act(
        tip_id,
        "conclude",
        form,
        lambda user: triage.conclude(
            *services(),
            user,
            tip_id,
            personal_key=personal_key(),
            outcome=TipState(form.outcome.data),
            text=form.text.data or "",
        ),
        done=lambda: gettext(
            "The verification is concluded; the reporter can read the conclusion."
        ),
    )


@bp.post("/tips/<uuid:tip_id>/conclude-recheck")
@login_required
@roles_required(Role.TRIAGE_OFFICER)
def conclude_recheck(tip_id: uuid.UUID) -> BaseResponse | tuple[str, int]:
    form = ConcludeForm(prefix="conclude_recheck")
    return _act(
        tip_id,
        "conclude_recheck",
        form,
        lambda user: triage.conclude_recheck(
            *services(),
            user,
            tip_id,
            personal_key=personal_key(),
            outcome=TipState(form.outcome.data),
            text=form.text.data or "",
        ),
        done=lambda: gettext("The re-check is concluded; the reporter can read its conclusion."),
    )


@bp.post("/tips/<uuid:tip_id>/close")
@login_required
@roles_required(Role.TRIAGE_OFFICER)
def close(tip_id: uuid.UUID) -> BaseResponse | tuple[str, int]:
    return _act(
        tip_id,
        "close",
        ActionForm(prefix="close"),
        lambda user: triage.close(*services(), user, tip_id),
        done=lambda: gettext("The report is closed."),
    )


@bp.post("/tips/<uuid:tip_id>/duplicate")
@login_required
@roles_required(Role.TRIAGE_OFFICER)
def mark_duplicate(tip_id: uuid.UUID) -> BaseResponse | tuple[str, int]:
    form = DuplicateForm(prefix="mark_duplicate")
    return _act(
        tip_id,
        "mark_duplicate",
        form,
        lambda user: triage.mark_duplicate(
            *services(), user, tip_id, original_id=uuid.UUID(form.original.data or "")
        ),
        done=lambda: gettext("The report is marked as a duplicate of an earlier report."),
    )


@bp.post("/tips/<uuid:tip_id>/ask")
@login_required
@roles_required(Role.TRIAGE_OFFICER)
def ask(tip_id: uuid.UUID) -> BaseResponse | tuple[str, int]:
    form = QuestionForm(prefix="ask")
    return _act(
        tip_id,
        "ask",
        form,
        lambda user: triage.ask_reporter(
            *services(), user, tip_id, personal_key=personal_key(), body=form.body.data or ""
        ),
        done=lambda: gettext("Your question is sent to the reporter."),
        anchor="thread",
    )


@bp.post("/tips/<uuid:tip_id>/note")
@login_required
@roles_required(Role.TRIAGE_OFFICER)
def note(tip_id: uuid.UUID) -> BaseResponse | tuple[str, int]:
    form = NoteForm(prefix="note")
    return _act(
        tip_id,
        "note",
        form,
        lambda user: triage.add_note(
            *services(), user, tip_id, personal_key=personal_key(), body=form.body.data or ""
        ),
        done=lambda: gettext("The internal note is saved."),
        anchor="notes",
    )


@bp.post("/tips/<uuid:tip_id>/case")
@login_required
@roles_required(Role.TRIAGE_OFFICER)
def open_case(tip_id: uuid.UUID) -> BaseResponse | tuple[str, int]:
    """Open a hazard case; or, with the "remove passages" button, show the description again
    with the marked passages replaced (in this response only: never in a flash or a URL)."""
    form = CaseForm(prefix="case")
    if form.redact.data and form.validate_on_submit():
        try:
            result = cases.redact(
                db_session(),
                clock(),
                current_user(),
                tip_id,
                text=form.description.data or "",
                passages=form.passage_list(),
            )
        except (Forbidden, NotFound):
            raise
        except DomainError as exc:
            rollback_request()
            form.form_errors.append(gettext(exc.message, **exc.params))
            return _tip_page(tip_id, {"case": form}, exc.status)
        form.description.data = result.text
        form.passages.data = ""
        notice = gettext(
            "%(count)s passages were removed from the description.", count=result.count
        )
        return _tip_page(tip_id, {"case": form}, 200, notice=notice)
    return _act(
        tip_id,
        "case",
        form,
        lambda user: cases.open_case_from_tip(
            *services(),
            user,
            tip_id,
            personal_key=personal_key(),
            standard_items=form.items(),
            description=form.description.data or "",
        ),
        done=lambda: gettext("A hazard case is opened from this report."),
        anchor="case",
    )
