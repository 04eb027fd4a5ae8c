"""Forms of the reward pages: claiming (the token again, then bank transfer or collection in
person) and declining (the token again and a confirmation)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from public_site.forms.reporter import TokenForm
from rewards.models import PaymentMethod
from rewards.services.claims import ACCOUNT_DIGITS_MAX, ACCOUNT_NAME_MAX, BANK_MAX

METHOD_LABELS: dict[PaymentMethod, Any] = {
    PaymentMethod.BANK_TRANSFER: _l("Bank transfer to an account I give"),
    PaymentMethod.IN_PERSON: _l("Collect it in person at the bureau with a claim code"),
}


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


def _needed_for_transfer(form: Any, field: Any) -> None:
    """Required when the reporter chose a bank transfer (ignored for collection in person)."""
    if form.method.data == PaymentMethod.BANK_TRANSFER.value and not (field.data or "").strip():
        raise ValidationError(_l("Needed for a bank transfer."))


class ClaimForm(TokenForm):
    """The token is asked again: an open session on a shared device is not enough to send the
    reward to someone else's account."""

    method = RadioField(
        _l("How do you want to receive the reward?"),
        choices=[SelectChoice(m.value, label) for m, label in METHOD_LABELS.items()],
        validators=[InputRequired(message=_l("Choose how you want to receive the reward."))],
    )
    account_name = StringField(
        _l("Account holder's name"),
        filters=[_strip],
        validators=[_needed_for_transfer, Length(max=ACCOUNT_NAME_MAX)],
        description=_l("As the bank has it. Only the finance staff who pay rewards can read it."),
        render_kw={"autocomplete": "off", "maxlength": ACCOUNT_NAME_MAX},
    )
    bank = StringField(
        _l("Bank and branch"),
        filters=[_strip],
        validators=[_needed_for_transfer, Length(max=BANK_MAX)],
        description=_l("For example 中国工商银行张家港支行."),
        render_kw={"autocomplete": "off", "maxlength": BANK_MAX},
    )
    account_number = StringField(
        _l("Account or card number"),
        filters=[_strip],
        validators=[_needed_for_transfer, Length(max=ACCOUNT_DIGITS_MAX + 10)],
        description=_l("8 to 30 digits; spaces do not matter."),
        render_kw={
            "autocomplete": "off",
            "inputmode": "numeric",
            "maxlength": ACCOUNT_DIGITS_MAX + 10,
        },
    )


class DeclineForm(TokenForm):
    confirm = BooleanField(
        _l("I do not want this reward. I understand that this cannot be undone."),
        validators=[DataRequired(message=_l("Tick the box to confirm."))],
    )
