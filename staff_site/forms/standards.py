"""Forms of the judgment-standard catalogue pages (administrator only)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, StringField
from wtforms.validators import InputRequired, Length, Optional

from cases.standards.models import CODE_MAX

ORIGIN_LABELS = {
    "shipped": _l("shipped with Qingling"),
    "administrator": _l("uploaded or changed by an administrator"),
}
DOMAIN_LABELS = {
    "elderly_care_safety": _l("Elderly-care service safety"),
    "fire": _l("Fire safety"),
    "buildings": _l("Buildings and construction"),
    "gas": _l("Gas"),
    "special_equipment": _l("Special equipment"),
    "other": _l("Other"),
}


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


class UploadForm(FlaskForm):
    file = FileField(
        _l("Catalogue file (JSON)"),
        validators=[FileRequired(message=_l("Choose a file."))],
        description=_l(
            "In the format of the shipped catalogue; download the current catalogue below as a "
            "starting point. A standard whose code is already in the catalogue is updated: "
            "items are added or corrected, none is removed."
        ),
        render_kw={"accept": ".json,application/json"},
    )


class SupersedeForm(FlaskForm):
    superseded_on = DateField(
        _l("Superseded from"),
        validators=[InputRequired(message=_l("Enter the date the successor took effect."))],
    )
    superseded_by = StringField(
        _l("Code of the successor"),
        filters=[_strip],
        validators=[Optional(), Length(max=CODE_MAX)],
        description=_l("For example GB 35181-2025. Leave empty if the standard was repealed."),
        render_kw={"autocomplete": "off"},
    )
