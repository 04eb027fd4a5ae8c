"""Forms of the facility registry: the list filters, a facility, a piece of special equipment,
the import upload, the export and a facility type.

The facility form is built from :data:`registry.fields.FIELDS`, so it has exactly the fields
the import and the export have. Its fields are text and choices only: numbers and dates are
read by the service (:func:`registry.fields.parse_cell`), which gives the same messages here as
in an import report.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    Field,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from registry import fields as registry_fields
from registry.fields import EQUIPMENT_CHOICES, FIELDS, FieldSpec, Kind
from registry.models import FacilityStatus
from registry.services.facility_types import (
    TYPE_CODE_MAX,
    TYPE_NAME_MAX,
    TYPE_NOTE_MAX,
    TYPE_SORT_MAX,
)
from staff_site.forms.validators import NumberRange

ANY = ""
YES, NO = "yes", "no"


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


# ---------------------------------------------------------------- the list


class FacilityFilterForm(FlaskForm):
    """The list's filters, sent with GET (no CSRF token: it changes nothing)."""

    class Meta:
        csrf = False

    q = StringField(
        _l("Search"),
        filters=[_strip],
        validators=[Optional(), Length(max=100)],
        description=_l("Words of the name, the address or the credit code."),
        render_kw={"type": "search"},
    )
    division = SelectField(_l("Division"), validate_choice=False)
    facility_type = SelectField(_l("Facility type"), validate_choice=False)
    status = SelectField(_l("Status"), validate_choice=False)
    key = SelectField(_l("Key supervision"), validate_choice=False)
    page = IntegerField(validators=[Optional(), NumberRange(min=1, max=100_000)])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.status.choices = [SelectChoice(ANY, str(_l("Any status")))] + [
            SelectChoice(c.value.value, str(_l(c.en))) for c in registry_fields.STATUS_CHOICES
        ]
        self.key.choices = [
            SelectChoice(ANY, str(_l("Any"))),
            SelectChoice(YES, str(_l("Under key supervision"))),
            SelectChoice(NO, str(_l("Not under key supervision"))),
        ]


class ExportForm(FlaskForm):
    """The export buttons; the list's filters come along as hidden fields."""

    fmt = HiddenField(validators=[DataRequired()])
    q = HiddenField()
    division = HiddenField()
    facility_type = HiddenField()
    status = HiddenField()
    key = HiddenField()


# ---------------------------------------------------------------- a facility


def _choice_field(spec: FieldSpec) -> Field:
    """A select of the spec's values, with "not recorded" first (the status has no blank)."""
    blank = [] if spec.name == "status" else [SelectChoice("", _l("Not recorded"))]
    choices = blank + [SelectChoice(str(c.value), _l(c.en)) for c in spec.choices]
    return SelectField(_l(spec.label), choices=choices, description=_hint(spec))


def _hint(spec: FieldSpec) -> Any:
    return _l(spec.hint) if spec.hint else ""


_INPUT_KW: dict[Kind, dict[str, str]] = {
    Kind.INT: {"inputmode": "numeric"},
    Kind.FLOAT: {"inputmode": "decimal"},
    Kind.DATE: {"type": "date"},
    Kind.PHONE: {"type": "tel", "autocomplete": "off"},
    Kind.CREDIT_CODE: {"autocomplete": "off", "spellcheck": "false", "maxlength": "30"},
}


def _field(spec: FieldSpec) -> Field:
    if spec.name == "key_supervision":
        return BooleanField(
            _l(spec.label),
            description=_l("Listed among the facilities under key supervision."),
        )
    if spec.kind in {Kind.CHOICE, Kind.BOOL}:
        return _choice_field(spec)
    if spec.kind in {Kind.DIVISION, Kind.FACILITY_TYPE}:
        return SelectField(_l(spec.label), validators=[InputRequired()], validate_choice=False)
    render_kw = dict(_INPUT_KW.get(spec.kind, {}))
    validators: list[Any] = [Optional()]
    if spec.name == "name":
        validators = [DataRequired()]
    if spec.kind in {Kind.TEXT, Kind.PHONE, Kind.FLOORS} and spec.max_length:
        validators.append(Length(max=spec.max_length))
    return StringField(
        _l(spec.label),
        filters=[_strip],
        validators=validators,
        description=_hint(spec),
        render_kw=render_kw or None,
    )


#: The facility form's fields: every field but the special equipment (its own pages).
FORM_FIELDS = tuple(spec for spec in FIELDS if spec.kind is not Kind.EQUIPMENT)


class FacilityForm(FlaskForm):
    """Every field of a facility (set on the class below, from :data:`FORM_FIELDS`)."""

    def groups(self) -> list[tuple[str, list[Field]]]:
        """The fields by group, in order, for the template."""
        out: list[tuple[str, list[Field]]] = []
        for spec in FORM_FIELDS:
            if not out or out[-1][0] != spec.group:
                out.append((spec.group, []))
            out[-1][1].append(self[spec.name])
        return out

    def values(self) -> dict[str, object]:
        """What the service gets: every field, an empty one as None."""
        out: dict[str, object] = {}
        for spec in FORM_FIELDS:
            data = self[spec.name].data
            if spec.kind in {Kind.DIVISION, Kind.FACILITY_TYPE}:
                # An id: a few ASCII digits ("²" is a digit int() refuses; a long number no
                # column holds); anything else is no choice (found by tests/hostile).
                text = str(data or "")
                out[spec.name] = (
                    int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else None
                )
            elif spec.name == "key_supervision":
                out[spec.name] = bool(data)
            else:
                out[spec.name] = data if data not in {"", None} else None
        return out


for _spec in FORM_FIELDS:
    setattr(FacilityForm, _spec.name, _field(_spec))
del _spec


def form_data(facility: Any) -> dict[str, object]:
    """A facility's values as the form shows them."""
    data: dict[str, object] = {}
    for spec in FORM_FIELDS:
        if spec.kind is Kind.DIVISION:
            data[spec.name] = str(facility.division_id)
        elif spec.kind is Kind.FACILITY_TYPE:
            data[spec.name] = str(facility.facility_type_id)
        elif spec.name == "key_supervision":
            data[spec.name] = bool(facility.key_supervision)
        else:
            value = getattr(facility, spec.name)
            if spec.kind in {Kind.CHOICE, Kind.BOOL}:
                data[spec.name] = "" if value is None else str(value)
            else:
                data[spec.name] = registry_fields.format_value(spec, value)
    return data


def new_facility_data() -> dict[str, object]:
    return {"status": FacilityStatus.OPERATING.value}


# ---------------------------------------------------------------- special equipment


class EquipmentForm(FlaskForm):
    kind = SelectField(
        _l("Kind"),
        choices=[SelectChoice(c.value.value, _l(c.en)) for c in EQUIPMENT_CHOICES],
        validators=[InputRequired()],
    )
    quantity = IntegerField(
        _l("Quantity"),
        default=1,
        validators=[
            InputRequired(),
            NumberRange(min=1, max=registry_fields.EQUIPMENT_QUANTITY_MAX),
        ],
        render_kw={"inputmode": "numeric"},
    )
    registration_no = StringField(
        _l("Registration certificate number"),
        filters=[_strip],
        validators=[Optional(), Length(max=registry_fields.REGISTRATION_MAX)],
        description=_l("As on the use-registration certificate of the equipment."),
    )
    next_inspection_on = DateField(
        _l("Next inspection due"),
        validators=[Optional()],
        description=_l("The date on the current inspection report."),
    )


# ---------------------------------------------------------------- import


class ImportForm(FlaskForm):
    file = FileField(
        _l("Spreadsheet"),
        validators=[FileRequired(message=_l("Choose a file."))],
        description=_l("CSV (UTF-8 or GBK, as Excel saves it) or Excel workbook (.xlsx)."),
        render_kw={"accept": ".csv,.xlsx,text/csv"},
    )
    default_division = SelectField(
        _l("Default division"),
        validate_choice=False,
        description=_l("For rows that name no division."),
    )


# ---------------------------------------------------------------- facility types


class FacilityTypeForm(FlaskForm):
    code = StringField(
        _l("Code"),
        filters=[_strip],
        validators=[DataRequired(), Length(max=TYPE_CODE_MAX)],
        description=_l(
            "A stable identifier: lower-case letters, digits and _. Imports may use it."
        ),
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    name_zh = StringField(
        _l("Chinese name"),
        filters=[_strip],
        validators=[DataRequired(), Length(max=TYPE_NAME_MAX)],
    )
    name_en = StringField(
        _l("English name"), filters=[_strip], validators=[Optional(), Length(max=TYPE_NAME_MAX)]
    )
    note = TextAreaField(
        _l("Note"),
        filters=[_strip],
        validators=[Optional(), Length(max=TYPE_NOTE_MAX)],
        description=_l("The legal basis, and how sure we are of it."),
    )
    sort_order = IntegerField(
        _l("Sort order"),
        default=0,
        validators=[InputRequired(), NumberRange(min=0, max=TYPE_SORT_MAX)],
    )
    active = BooleanField(
        _l("Active"),
        default=True,
        description=_l(
            "Types are never deleted. Clear this to retire a type: it leaves the choices, and "
            "the facilities of this type keep it."
        ),
    )
