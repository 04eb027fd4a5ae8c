"""Forms of the finance pages, and what the staff site calls the values of the reward enums.

The list's filter form and the totals' year are sent with GET and change nothing, so they have
no CSRF token. Every step on the reward page is a POST with the CSRF token; each form has its
own ``prefix`` (the page holds several, and ids must stay unique). Money is typed in yuan (up
to two decimals) and handed to the services in fen.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    Optional,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from rewards.models import (
    NotEligibleReason,
    PaymentMethod,
    RewardAction,
    RewardKind,
    RewardState,
)
from rewards.rules import GRADES
from rewards.services.lifecycle import DECISION_NUMBER_MAX, FINES_MAX, NOTE_MAX, VOUCHER_MAX
from staff_site.forms.validators import NumberRange

# ---------------------------------------------------------------- labels

STATE_LABELS: dict[RewardState, Any] = {
    RewardState.NOT_ELIGIBLE: _l("Not eligible"),
    RewardState.AWAITING_PENALTY_DECISION: _l("Awaiting penalty decision"),
    RewardState.CALCULATED: _l("Calculated"),
    RewardState.APPROVED: _l("Approved"),
    RewardState.OFFERED: _l("Offered"),
    RewardState.CLAIMED: _l("Claimed"),
    RewardState.PAID: _l("Paid"),
    RewardState.EXPIRED: _l("Expired"),
    RewardState.DECLINED: _l("Declined"),
}

KIND_LABELS: dict[RewardKind, Any] = {
    RewardKind.HAZARD: _l("Hazard or illegal production (share of the penalty)"),
    RewardKind.CONCEALED_ACCIDENT: _l("Concealed or falsely reported accident (per death)"),
}

NOT_ELIGIBLE_LABELS: dict[NotEligibleReason, Any] = {
    NotEligibleReason.EARLIER_REPORTER: _l("another report of the matter was accepted first"),
    NotEligibleReason.RULES: _l("no reward is due under the rules"),
    NotEligibleReason.RECHECK: _l("the re-check did not substantiate the report"),
}

METHOD_LABELS: dict[PaymentMethod, Any] = {
    PaymentMethod.BANK_TRANSFER: _l("Bank transfer"),
    PaymentMethod.IN_PERSON: _l("In person with a claim code"),
}

ACTION_LABELS: dict[RewardAction, Any] = {
    RewardAction.CREATE: _l("created from the conclusion"),
    RewardAction.RECORD_PENALTY_DECISION: _l("penalty decision recorded"),
    RewardAction.CALCULATE: _l("calculated"),
    RewardAction.SEND_BACK: _l("sent back for another calculation"),
    RewardAction.APPROVE: _l("approved"),
    RewardAction.OFFER: _l("offered to the reporter"),
    RewardAction.CLAIM: _l("claimed by the reporter"),
    RewardAction.DECLINE: _l("declined by the reporter"),
    RewardAction.EXPIRE: _l("expired unclaimed"),
    RewardAction.RECORD_PAYMENT: _l("payment recorded"),
    RewardAction.WITHDRAW: _l("withdrawn after the re-check"),
}

ANY = ""


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


# ---------------------------------------------------------------- money

_YUAN = re.compile(r"\d+(\.\d{1,2})?")


def parse_yuan(text: str) -> int:
    """An amount typed in yuan (``3000``, ``3,000.5``, ``¥ 3 000.50``, full-width digits) as
    fen; ValueError for anything else, a negative amount or more than two decimals."""
    folded = unicodedata.normalize("NFKC", text or "")
    cleaned = re.sub(r"[\s,¥￥元]", "", folded)
    if not _YUAN.fullmatch(cleaned):
        raise ValueError(cleaned)
    try:
        value = Decimal(cleaned)
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise ValueError(cleaned) from None
    return int(value * 100)


def _amount(form: Any, field: Any) -> None:
    try:
        parse_yuan(field.data or "")
    except ValueError:
        raise ValidationError(_l("Enter an amount in yuan, with at most two decimals.")) from None


def _fines(form: Any, field: Any) -> None:
    lines = [line for line in (field.data or "").splitlines() if line.strip()]
    if len(lines) > FINES_MAX:
        raise ValidationError(_l("At most %(max)s fines.", max=FINES_MAX))
    for line in lines:
        try:
            if parse_yuan(line) <= 0:
                raise ValueError(line)
        except ValueError:
            raise ValidationError(
                _l("Each line is one fine in yuan, more than 0, with at most two decimals.")
            ) from None


# ---------------------------------------------------------------- the list and the totals


class RewardFilterForm(FlaskForm):
    """The list's filters (GET; no CSRF token)."""

    state = SelectField(_l("State"), choices=[], default=ANY)
    division = SelectField(_l("Division"), choices=[], default=ANY)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("meta", {"csrf": False})
        super().__init__(*args, **kwargs)
        self.state.choices = [
            SelectChoice(ANY, _l("All states")),
            *(SelectChoice(s.value, STATE_LABELS[s]) for s in RewardState),
        ]


class TotalsForm(FlaskForm):
    year = IntegerField(_l("Year"), validators=[Optional(), NumberRange(min=2000, max=2100)])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("meta", {"csrf": False})
        super().__init__(*args, **kwargs)


# ---------------------------------------------------------------- steps on a reward


class ActionForm(FlaskForm):
    """A button alone (approve, offer, open the payment details): the CSRF token only."""


class DecisionForm(FlaskForm):
    kind = SelectField(
        _l("What the reward is for"),
        choices=[SelectChoice(k.value, label) for k, label in KIND_LABELS.items()],
        validators=[InputRequired()],
    )
    fines = TextAreaField(
        _l("Fines (yuan)"),
        filters=[_strip],
        validators=[_fines],
        description=_l(
            "One fine per line: on the unit and on each responsible person; they are added "
            "together. Leave empty for “no penalty” or an accident."
        ),
        render_kw={"rows": 3},
    )
    no_penalty = BooleanField(_l("Verified and rectified, no penalty imposed"))
    decision_number = StringField(
        _l("Document number of the decision"),
        filters=[_strip],
        validators=[Length(max=DECISION_NUMBER_MAX)],
        description=_l("For example 张民罚决字〔2026〕12号. Optional only with “no penalty”."),
    )
    decision_date = DateField(_l("Date of the decision"), validators=[InputRequired()])
    grade = SelectField(
        _l("Finally confirmed accident grade"),
        choices=[SelectChoice(ANY, "—"), *(SelectChoice(g.name, g.name) for g in GRADES)],
        default=ANY,
    )
    deaths = IntegerField(
        _l("Verified concealed deaths"), validators=[Optional(), NumberRange(min=1, max=10_000)]
    )

    def fines_fen(self) -> tuple[int, ...]:
        return tuple(
            parse_yuan(line) for line in (self.fines.data or "").splitlines() if line.strip()
        )


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class CalculateForm(FlaskForm):
    exclusions = MultiCheckboxField(
        _l("Grounds for exclusion that apply"), choices=[], validate_choice=True
    )
    joint_position = IntegerField(
        _l("Place among the signatories of a joint report"),
        validators=[Optional(), NumberRange(min=1, max=1000)],
        description=_l("Empty for a report by one person; 1 for the first signatory."),
    )
    rule_set = SelectField(_l("Rule set"), choices=[], default=ANY, validate_choice=True)


class SendBackForm(FlaskForm):
    note = StringField(
        _l("Why it goes back"),
        filters=[_strip],
        validators=[DataRequired(), Length(max=NOTE_MAX)],
    )


class PaymentForm(FlaskForm):
    voucher_number = StringField(
        _l("Voucher number"),
        filters=[_strip],
        validators=[DataRequired(), Length(max=VOUCHER_MAX)],
    )
    paid_on = DateField(_l("Paid on"), validators=[InputRequired()])
    amount = StringField(
        _l("Amount paid (yuan)"),
        filters=[_strip],
        validators=[DataRequired(), _amount],
        description=_l("Must be the approved amount."),
    )
    claim_code = StringField(
        _l("Claim code shown by the reporter"),
        filters=[_strip],
        validators=[Length(max=40)],
        description=_l("Only for collection in person."),
        render_kw={"autocomplete": "off", "inputmode": "numeric"},
    )

    def amount_fen(self) -> int:
        return parse_yuan(self.amount.data or "")
