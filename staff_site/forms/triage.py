"""Forms of the triage pages, and what the staff site calls the values of the tip enums.

The queue's filter form is sent with GET and changes nothing, so it has no CSRF token. Every
action form on the tip page is a POST with the CSRF token; each has its own ``prefix`` (the
page holds several forms with a text field, and ids must stay unique).
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import UUID, DataRequired, InputRequired, Length, Optional

from intake import models as intake_models
from intake.models import (
    Channel,
    MessageAuthor,
    NotAcceptedReason,
    Relationship,
    TipCategory,
    TipState,
)
from staff_site.forms.validators import NumberRange
from triage.services.common import REGULATOR_MAX, TEXT_MAX

# ---------------------------------------------------------------- labels

STATE_LABELS: dict[TipState, Any] = {
    TipState.SUBMITTED: _l("Submitted"),
    TipState.ACCEPTED: _l("Accepted"),
    TipState.NOT_ACCEPTED: _l("Not accepted"),
    TipState.TRANSFERRED: _l("Transferred"),
    TipState.VERIFYING: _l("Verifying"),
    TipState.SUBSTANTIATED: _l("Substantiated"),
    TipState.PARTLY_SUBSTANTIATED: _l("Partly substantiated"),
    TipState.UNSUBSTANTIATED: _l("Unsubstantiated"),
    TipState.RECHECKING: _l("Re-checking"),
    TipState.RECHECKED: _l("Re-checked"),
    TipState.DUPLICATE: _l("Duplicate"),
    TipState.CLOSED: _l("Closed"),
}

#: The states whose tips still need an officer: the queue shows and counts these by default
#: (counting every state at a million tips, most of them closed, costs far more).
OPEN_STATES: frozenset[TipState] = frozenset(s for s in TipState if s is not TipState.CLOSED)

CATEGORY_LABELS: dict[TipCategory, Any] = {
    k: _l(v) for k, v in intake_models.CATEGORY_LABELS.items()
}

CHANNEL_LABELS: dict[Channel, Any] = {
    Channel.WEB: _l("Web form"),
    Channel.API: _l("App (API)"),
    Channel.WECHAT: _l("WeChat"),
}

NOT_ACCEPTED_LABELS: dict[NotAcceptedReason, Any] = {
    NotAcceptedReason.OUTSIDE_REMIT: _l("Outside our remit"),
    NotAcceptedReason.NO_CLEAR_TARGET_OR_FACTS: _l("No clear target or facts"),
    NotAcceptedReason.ALREADY_ACCEPTED: _l("The same matter is already accepted"),
    NotAcceptedReason.OTHER_PROCEDURE: _l("Belongs to another legal procedure"),
}

RELATIONSHIP_LABELS: dict[Relationship, Any] = {
    Relationship.EMPLOYEE: _l("Works there"),
    Relationship.RESIDENT: _l("Lives there"),
    Relationship.FAMILY: _l("A family member lives there"),
    Relationship.NEIGHBOUR: _l("Lives or works nearby"),
    Relationship.OTHER: _l("Other"),
}

AUTHOR_LABELS: dict[MessageAuthor, Any] = {
    MessageAuthor.REPORTER: _l("Reporter"),
    MessageAuthor.OFFICER: _l("Officer"),
}

#: The ``reason`` codes of the history that are not a state or a not-accepted reason.
REASON_LABELS: dict[str, Any] = {
    "objection": _l("objection by the reporter"),
    "extension": _l("deadline extended"),
}

OUTCOMES = (TipState.SUBSTANTIATED, TipState.PARTLY_SUBSTANTIATED, TipState.UNSUBSTANTIATED)


def reason_label(code: str | None) -> str:
    """A history row's reason code in words (an unknown code shows as it is)."""
    if not code:
        return ""
    if code in REASON_LABELS:
        return str(REASON_LABELS[code])
    if code in NotAcceptedReason.__members__.values():
        return str(NOT_ACCEPTED_LABELS[NotAcceptedReason(code)])
    if code in TipState.__members__.values():
        return str(STATE_LABELS[TipState(code)])
    return code


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


# ---------------------------------------------------------------- the queue

ANY = ""
OPEN = ""  # the state filter's default: every state but closed
ALL = "all"


class QueueFilterForm(FlaskForm):
    """The queue's filters and sort order (GET; no CSRF token, no named submit button)."""

    state = SelectField(_l("State"), choices=[], default=OPEN)
    division = SelectField(_l("Division"), choices=[], default=ANY)
    category = SelectField(_l("Category"), choices=[], default=ANY)
    channel = SelectField(_l("Channel"), choices=[], default=ANY)
    due_before = DateField(
        _l("Due on or before (date)"),
        validators=[Optional()],
        description=_l("China Standard Time."),
    )
    overdue = BooleanField(_l("Overdue only"))
    unanswered = BooleanField(_l("Unanswered question only"))
    sort = SelectField(
        _l("Sort"),
        choices=[
            SelectChoice("newest", _l("Newest first")),
            SelectChoice("oldest", _l("Oldest first")),
            SelectChoice("due", _l("Deadline, soonest first")),
        ],
        default="newest",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("meta", {"csrf": False})
        super().__init__(*args, **kwargs)
        self.state.choices = [
            SelectChoice(OPEN, _l("Open (all but closed)")),
            SelectChoice(ALL, _l("All states")),
            *(SelectChoice(s.value, STATE_LABELS[s]) for s in TipState),
        ]
        self.category.choices = [
            SelectChoice(ANY, _l("Any category")),
            *(SelectChoice(c.value, label) for c, label in CATEGORY_LABELS.items()),
        ]
        self.channel.choices = [
            SelectChoice(ANY, _l("Any channel")),
            *(SelectChoice(c.value, label) for c, label in CHANNEL_LABELS.items()),
        ]


# ---------------------------------------------------------------- actions on a tip


def _text(label: Any, description: Any = None) -> TextAreaField:
    return TextAreaField(
        label,
        filters=[_strip],
        validators=[DataRequired(), Length(max=TEXT_MAX)],
        description=description,
        render_kw={"rows": 4},
    )


class ActionForm(FlaskForm):
    """A button alone (accept, start verification, close): the CSRF token only."""


class NotAcceptForm(FlaskForm):
    reason = SelectField(
        _l("Reason"),
        choices=[SelectChoice(r.value, label) for r, label in NOT_ACCEPTED_LABELS.items()],
        validators=[InputRequired()],
    )
    text = _text(_l("Explanation for the reporter"), _l("The reporter reads this text."))


class TransferForm(FlaskForm):
    regulator = StringField(
        _l("Regulator it goes to"),
        filters=[_strip],
        validators=[DataRequired(), Length(max=REGULATOR_MAX)],
    )
    note = _text(_l("Note to the reporter"), _l("The reporter reads this text."))


class ExtendForm(FlaskForm):
    days = IntegerField(
        _l("Days to add"),
        validators=[InputRequired(), NumberRange(min=1, max=365)],
    )
    reason = _text(_l("Reason"), _l("The reporter reads this reason."))


class ConcludeForm(FlaskForm):
    outcome = SelectField(
        _l("Outcome"),
        choices=[SelectChoice(s.value, STATE_LABELS[s]) for s in OUTCOMES],
        validators=[InputRequired()],
    )
    text = _text(_l("Conclusion"), _l("The reporter reads this conclusion."))


class QuestionForm(FlaskForm):
    body = _text(_l("Question to the reporter"), _l("The reporter reads this and can answer."))


class NoteForm(FlaskForm):
    body = _text(_l("Internal note"), _l("Only officers see notes; the reporter never sees this."))


class DuplicateForm(FlaskForm):
    original = StringField(
        _l("Earlier report (id)"),
        filters=[_strip],
        validators=[DataRequired(), UUID(message=_l("Enter a report id."))],
    )


class CaseForm(FlaskForm):
    """Open a hazard case; ``redact`` first replaces the marked passages in the description."""

    standard_items = TextAreaField(
        _l("Judgment-standard items"),
        filters=[_strip],
        validators=[Length(max=2000)],
        description=_l(
            "Item codes from the judgment-standard catalogue (such as GB 35181-2017/7.3.1), one "
            "per line or separated by commas."
        ),
        render_kw={"rows": 2},
    )
    description = TextAreaField(
        _l("Description of the hazard"),
        filters=[_strip],
        validators=[Length(max=TEXT_MAX)],
        description=_l(
            "In your own words. Never the reporter's name, contact details or anything that "
            "could point to them: the case is read by people who must not learn who reported."
        ),
        render_kw={"rows": 6},
    )
    passages = TextAreaField(
        _l("Passages to remove"),
        validators=[Length(max=TEXT_MAX)],
        description=_l(
            "Paste each passage that could identify the reporter on its own line, then press "
            "Remove passages: every occurrence in the description is replaced."
        ),
        render_kw={"rows": 3},
    )
    redact = SubmitField(_l("Remove passages"))
    open_case = SubmitField(_l("Open the hazard case"))

    def items(self) -> list[str]:
        # Codes contain spaces ("GB 35181-2017/7.3.1"): split on lines, commas and semicolons.
        raw = self.standard_items.data or ""
        for mark in ("，", "；", ";", "、", "\n"):
            raw = raw.replace(mark, ",")
        return [code.strip() for code in raw.split(",") if code.strip()]

    def passage_list(self) -> list[str]:
        return [line for line in (self.passages.data or "").splitlines() if line.strip()]
