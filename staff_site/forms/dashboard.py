"""Forms of the dashboard: the division shown and the filters of an export. Both are sent with
GET and change nothing but the audit trail (an export is recorded), so they carry no CSRF
token; the views fill the division choices with the user's scope."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, SelectMultipleField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from cases.exports import STATE_NAMES
from cases.models import CaseState

ANY = ""


class DashboardForm(FlaskForm):
    division = SelectField(_l("Division"), choices=[], default=ANY)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("meta", {"csrf": False})
        super().__init__(*args, **kwargs)


class ExportForm(FlaskForm):
    division = SelectField(_l("Division"), choices=[], default=ANY)
    state = SelectMultipleField(
        _l("State"),
        choices=[SelectChoice(s.value, _l(STATE_NAMES[s])) for s in CaseState],
        validators=[Optional()],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        description=_l("None ticked: every state."),
    )
    discovered_from = DateField(_l("Discovered from"), validators=[Optional()])
    discovered_to = DateField(
        _l("Discovered until"),
        validators=[Optional()],
        description=_l("Both dates included."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("meta", {"csrf": False})
        super().__init__(*args, **kwargs)

    def validate_discovered_to(self, field: DateField) -> None:
        start = self.discovered_from.data
        if start is not None and field.data is not None and field.data < start:
            raise ValidationError(_l("The first date is after the last date."))
