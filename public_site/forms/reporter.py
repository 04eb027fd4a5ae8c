"""Forms of the reporter pages: the token, replacing it, logging out."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from crypto.tokens import MAX_INPUT_LEN


class TokenForm(FlaskForm):
    token = StringField(
        _l("Tracking token"),
        validators=[
            DataRequired(message=_l("Enter your tracking token.")),
            Length(max=MAX_INPUT_LEN),
        ],
        description=_l(
            "16 letters and digits, e.g. 7KQ2-M9XD-4R8T-ZP3W. Dashes and case do not matter."
        ),
        render_kw={
            "autocomplete": "off",
            "autocapitalize": "characters",
            "spellcheck": "false",
            "maxlength": MAX_INPUT_LEN,
        },
    )


class ReplaceTokenForm(TokenForm):
    """Replacing the token asks for the current one again: someone who finds an open session
    on a shared device must not be able to lock the reporter out."""


class PlainForm(FlaskForm):
    """A form with only the CSRF token (logout)."""


class TokenFileForm(FlaskForm):
    """The receipt's "save as a text file" button: the token travels back in the POST body
    and is echoed as a download (see ``public_site/views/tips.py``)."""

    token = StringField(validators=[DataRequired(), Length(max=MAX_INPUT_LEN)])
