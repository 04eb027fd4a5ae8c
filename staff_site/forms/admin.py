"""Forms of the staff account administration pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from core.accounts.services import DISPLAY_NAME_MAX

CITY = ""  # value of the "whole city" choice in the division select


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


def _fold(value: object) -> object:
    return value.strip().casefold() if isinstance(value, str) else value


class CheckboxesField(SelectMultipleField):
    """Several choices shown as check boxes (for roles)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class UserForm(FlaskForm):
    """Display name, roles and scope; the choices are set by the view (the admin's scope)."""

    display_name = StringField(
        _l("Display name"),
        filters=[_strip],
        validators=[DataRequired(), Length(max=DISPLAY_NAME_MAX)],
        render_kw={"autocomplete": "off"},
    )
    roles = CheckboxesField(_l("Roles"), choices=[], validate_choice=True)
    division = SelectField(
        _l("Scope"),
        choices=[],
        description=_l(
            "A division-scoped user sees only that division. Supervisors and auditors always "
            "see the whole city."
        ),
    )


class NewUserForm(UserForm):
    username = StringField(
        _l("User name"),
        filters=[_fold],
        validators=[
            DataRequired(),
            Regexp(
                r"^[a-z0-9._-]{3,64}$",
                message=_l(
                    "3 to 64 characters: lower-case letters, digits, dots, dashes and underscores."
                ),
            ),
        ],
        render_kw={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"},
    )


class ActionForm(FlaskForm):
    """A button that changes something (disable, enable, reset password): CSRF token only."""
