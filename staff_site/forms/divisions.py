"""The form an administrator uses to add or change a division."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional, Regexp

from registry.models import DivisionKind
from registry.services import (
    MANAGEMENT_AREA_MAX,
    NAME_EN_MAX,
    NAME_MAX,
    NAME_MIN,
    SORT_ORDER_MAX,
)
from staff_site.forms.validators import NumberRange

KIND_LABELS = {
    DivisionKind.TOWN: _l("Town"),
    DivisionKind.STREET: _l("Street (subdistrict)"),
    DivisionKind.PARK: _l("Park"),
    DivisionKind.OTHER: _l("Other"),
}


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


class DivisionForm(FlaskForm):
    """Checks the shape of the input; the service checks the rules (and checks again)."""

    name = StringField(
        _l("Name"),
        filters=[_strip],
        validators=[DataRequired(), Length(min=NAME_MIN, max=NAME_MAX)],
        description=_l("As written in official documents, e.g. 杨舍镇."),
    )
    name_en = StringField(
        _l("English name"), filters=[_strip], validators=[Optional(), Length(max=NAME_EN_MAX)]
    )
    kind = SelectField(_l("Kind"), validators=[InputRequired()])
    code = StringField(
        _l("Township code"),
        filters=[_strip],
        validators=[
            Optional(),
            Regexp(r"^\s*[0-9０-９]{9}\s*$", message=_l("Enter exactly 9 digits, or leave empty.")),
        ],
        description=_l("The 9-digit statistical code, once verified; leave empty otherwise."),
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )
    management_area = StringField(
        _l("Management area"),
        filters=[_strip],
        validators=[Optional(), Length(max=MANAGEMENT_AREA_MAX)],
        description=_l("The development zone or park run together with this division, if any."),
    )
    sort_order = IntegerField(
        _l("Sort order"),
        default=0,
        validators=[InputRequired(), NumberRange(min=0, max=SORT_ORDER_MAX)],
        description=_l("Divisions are listed from the lowest number up."),
    )
    active = BooleanField(
        _l("Active"),
        default=True,
        description=_l(
            "Divisions are never deleted. Clear this to retire a division: it leaves the "
            "choices, and everything that refers to it keeps its meaning."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Built per request: the labels are translated into the reader's language.
        self.kind.choices = [
            SelectChoice(kind.value, str(label)) for kind, label in KIND_LABELS.items()
        ]
