"""Forms of the case pages, and what the staff site calls the values of the case enums.

The list's filter form is sent with GET and changes nothing, so it has no CSRF token. Every
action form on the case page is a POST with the CSRF token and its own ``prefix`` (the page
holds several forms with a text field, and ids must stay unique). Forms check shape only; the
rules (dates, the five in place, who may accept) are the services'.
"""

from __future__ import annotations

import decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    IntegerField,
    MultipleFileField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from cases.models import CaseSource, CaseState, EnforcementKind, UpdateKind
from cases.services.common import LINE_MAX, TEXT_MAX
from cases.services.evidence import FILES_MAX
from staff_site.forms.triage import CATEGORY_LABELS
from staff_site.forms.validators import NumberRange

# ---------------------------------------------------------------- labels

CASE_STATE_LABELS: dict[CaseState, Any] = {
    CaseState.OPEN: _l("Open, no plan yet"),
    CaseState.RECTIFYING: _l("Rectifying"),
    CaseState.AWAITING_ACCEPTANCE: _l("Awaiting acceptance"),
    CaseState.CLOSED: _l("Closed (awaiting re-check)"),
    CaseState.RECHECKED: _l("Re-checked"),
}

SOURCE_LABELS: dict[CaseSource, Any] = {
    CaseSource.TIP: _l("A report"),
    CaseSource.INSPECTION: _l("An inspection"),
    CaseSource.SELF_REPORT: _l("The facility's own report"),
}

ENFORCEMENT_LABELS: dict[EnforcementKind, Any] = {
    EnforcementKind.SUSPEND_BUILDING: _l("Suspension of use of a building"),
    EnforcementKind.SUSPEND_EQUIPMENT: _l("Suspension of use of equipment"),
    EnforcementKind.SEAL: _l("Sealing"),
    EnforcementKind.STOP_PRODUCTION: _l("Stop of production or business"),
}

#: Timeline entries: the update kinds and the other events of a case.
TIMELINE_LABELS: dict[str, Any] = {
    "opened": _l("Case opened"),
    "plan": _l("Rectification plan recorded"),
    "enforcement": _l("Enforcement measure ordered"),
    UpdateKind.PROGRESS.value: _l("Progress update"),
    UpdateKind.SUBMISSION.value: _l("Submitted for acceptance"),
    UpdateKind.REFUSAL.value: _l("Acceptance not passed"),
    UpdateKind.ACCEPTANCE.value: _l("Accepted and closed"),
    UpdateKind.RECHECK.value: _l("Re-check: hazard cleared"),
    UpdateKind.RELAPSE.value: _l("Re-check: hazard back (relapse)"),
    "interview": _l("Interview recorded"),
    "circular": _l("Circular recorded"),
}

__all__ = ["CATEGORY_LABELS"]

ANY = ""


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


# ---------------------------------------------------------------- the list


class CaseFilterForm(FlaskForm):
    """The list's filters (GET; no CSRF token)."""

    state = SelectField(_l("State"), choices=[], default=ANY)
    division = SelectField(_l("Division"), choices=[], default=ANY)
    overdue = BooleanField(_l("Overdue only"))
    page = IntegerField(_l("Page"), validators=[Optional(), NumberRange(min=1)], default=1)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("meta", {"csrf": False})
        super().__init__(*args, **kwargs)
        self.state.choices = [
            SelectChoice(ANY, _l("Any state")),
            *(SelectChoice(s.value, label) for s, label in CASE_STATE_LABELS.items()),
        ]


# ---------------------------------------------------------------- fields


def _text(label: Any, description: Any = None, *, required: bool = True) -> TextAreaField:
    return TextAreaField(
        label,
        filters=[_strip],
        validators=[DataRequired() if required else Optional(), Length(max=TEXT_MAX)],
        description=description,
        render_kw={"rows": 4},
    )


def _line(label: Any, description: Any = None, *, maximum: int = LINE_MAX) -> StringField:
    return StringField(
        label,
        filters=[_strip],
        validators=[DataRequired(), Length(max=maximum)],
        description=description,
    )


def _files(label: Any) -> MultipleFileField:
    return MultipleFileField(
        label,
        description=_l(
            "Photos (JPEG, PNG, WebP, HEIC), PDF, Word or Excel; at most %(count)s files of "
            "10 MB each. Photos lose their location and camera data when stored.",
            count=FILES_MAX,
        ),
        render_kw={"accept": "image/*,.pdf,.docx,.xlsx"},
    )


# ---------------------------------------------------------------- a new case


class NewCaseForm(FlaskForm):
    source = SelectField(
        _l("Found by"),
        choices=[
            SelectChoice(s.value, SOURCE_LABELS[s])
            for s in (CaseSource.INSPECTION, CaseSource.SELF_REPORT)
        ],
        validators=[InputRequired()],
    )
    division = SelectField(_l("Division"), choices=[], validators=[InputRequired()])
    facility = IntegerField(
        _l("Registered facility (number)"),
        validators=[Optional(), NumberRange(min=1)],
        description=_l("The facility's number in the registry; leave empty if it is not there."),
    )
    category = SelectField(
        _l("Category"),
        choices=[SelectChoice(c.value, label) for c, label in CATEGORY_LABELS.items()],
        validators=[InputRequired()],
    )
    discovered_on = DateField(_l("Date of discovery"), validators=[InputRequired()])
    standard_items = SelectMultipleField(
        _l("Judgment-standard items"), choices=[], validate_choice=False
    )
    place_class = SelectField(
        _l("Class of place (for the composite rule)"),
        choices=[],
        validators=[Optional()],
        validate_choice=False,
    )
    description = _text(
        _l("Description of the hazard"),
        _l("What was found, where, and why it is a major hazard."),
    )
    deadline = DateField(_l("Rectification deadline ordered (optional)"), validators=[Optional()])

    def items(self) -> list[str]:
        return [v for v in (self.standard_items.data or []) if v.strip()]


# ---------------------------------------------------------------- rectification


class PlanForm(FlaskForm):
    """A rectification plan with the five in place (五落实)."""

    responsibility = _text(
        _l("Responsibility"),
        _l("Who is responsible for the rectification: the person in charge and the team."),
    )
    measures = _text(_l("Measures"), _l("What will be done to remove the hazard."))
    funds = DecimalField(
        _l("Funds (yuan)"),
        places=2,
        validators=[InputRequired(), NumberRange(min=0)],
        description=_l("The money set aside for the rectification, in yuan."),
    )
    deadline = DateField(_l("Deadline"), validators=[InputRequired()])
    contingency_plan = _text(
        _l("Contingency plan"),
        _l("Safety and emergency measures while the hazard remains."),
    )

    def funds_fen(self) -> int:
        value = self.funds.data or decimal.Decimal(0)
        return int((value * 100).quantize(decimal.Decimal(1), rounding=decimal.ROUND_HALF_UP))


class NoteFilesForm(FlaskForm):
    """A text and evidence files: progress, submission, refusal, re-check."""

    note = _text(_l("Text"))
    files = _files(_l("Evidence files"))


class ProgressForm(NoteFilesForm):
    note = _text(_l("Progress"), _l("What has been done since the last update."))


class SubmitForm(NoteFilesForm):
    note = _text(
        _l("Account of the rectification"),
        _l("What was done. Another officer will accept or refuse it."),
    )


class RefuseForm(NoteFilesForm):
    note = _text(_l("What still has to be done"))


class AcceptForm(NoteFilesForm):
    note = _text(_l("Acceptance opinion"))
    files = _files(_l("Acceptance evidence (required)"))


class RecheckForm(NoteFilesForm):
    note = _text(_l("Re-check findings"))


class RelapseForm(NoteFilesForm):
    note = _text(_l("What the re-check found"))
    deadline = DateField(_l("New rectification deadline"), validators=[InputRequired()])


class EnforcementForm(FlaskForm):
    kind = SelectField(
        _l("Measure"),
        choices=[SelectChoice(k.value, label) for k, label in ENFORCEMENT_LABELS.items()],
        validators=[InputRequired()],
    )
    target = _line(_l("Building, equipment or premises concerned"))
    start_on = DateField(_l("From"), validators=[InputRequired()])
    end_on = DateField(_l("Until (optional)"), validators=[Optional()])
    note = _text(_l("Note (optional)"), required=False)


class EndEnforcementForm(FlaskForm):
    end_on = DateField(_l("Ended on"), validators=[InputRequired()])


# ---------------------------------------------------------------- escalation


class InterviewForm(FlaskForm):
    held_on = DateField(_l("Date of the interview"), validators=[InputRequired()])
    conducted_by = _line(_l("Held by"), _l("Name and position of who held the interview."))
    interviewee = _line(
        _l("Interviewed"), _l("The person or unit interviewed (name, position, unit).")
    )
    attendees = _text(_l("Attendees"), required=False)
    content = _text(_l("Content"))
    commitments = _text(_l("Commitments made"), required=False)


class CircularForm(FlaskForm):
    number = _line(_l("Document number"), maximum=100)
    issued_on = DateField(_l("Date issued"), validators=[InputRequired()])
    scope = _line(_l("Circulated to"), maximum=300)
    text = _text(_l("Text of the circular"))


# ---------------------------------------------------------------- public examples


class PublicExampleForm(FlaskForm):
    public = BooleanField(_l("Show as a public example"))
    summary = TextAreaField(
        _l("Public summary"),
        filters=[_strip],
        validators=[Length(max=2000)],
        description=_l(
            "The only text of this case the public site shows. Nothing that could identify "
            "a reporter."
        ),
        render_kw={"rows": 3},
    )
