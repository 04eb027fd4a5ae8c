"""The auditor's search form. It is sent with GET and changes nothing, so it has no CSRF token
(and no named submit button, so the query string holds only the filters)."""

from __future__ import annotations

import re
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, StringField
from wtforms.validators import Length, Optional, ValidationError

#: C0 controls and DEL: nothing is recorded with them, and PostgreSQL refuses NUL in a query
#: parameter (found by tests/hostile).
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def _strip(value: object) -> object:
    return _CONTROL.sub("", value).strip() if isinstance(value, str) else value


class AuditSearchForm(FlaskForm):
    actor = StringField(
        _l("Actor"),
        filters=[_strip],
        validators=[Optional(), Length(max=100)],
        description=_l("A user name, or system or reporter."),
    )
    action = StringField(
        _l("Action"),
        filters=[_strip],
        validators=[Optional(), Length(max=80)],
        description=_l("The start of an action, e.g. division. or division.updated."),
    )
    object_type = StringField(
        _l("Object type"), filters=[_strip], validators=[Optional(), Length(max=40)]
    )
    object_id = StringField(
        _l("Object id"), filters=[_strip], validators=[Optional(), Length(max=64)]
    )
    date_from = DateField(
        _l("From (date)"),
        validators=[Optional()],
        description=_l("China Standard Time."),
    )
    date_to = DateField(_l("To (date)"), validators=[Optional()])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("meta", {"csrf": False})
        super().__init__(*args, **kwargs)

    def validate_date_to(self, field: DateField) -> None:
        if self.date_from.data and field.data and field.data < self.date_from.data:
            raise ValidationError(_l("The end date is before the start date."))
