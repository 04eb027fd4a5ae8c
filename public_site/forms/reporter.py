"""Forms of the reporter pages: the token, replacing it, logging out, messages, objections."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from crypto.tokens import MAX_INPUT_LEN
from triage.services.common import TEXT_MAX


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


def _newlines(value: str | None) -> str | None:
    """Browsers send a textarea's line breaks as CRLF; a text is stored with LF."""
    return value.replace("\r\n", "\n").replace("\r", "\n") if value else value


class ReplyForm(FlaskForm):
    """The reporter's message: an answer to an officer's question, or more information."""

    body = TextAreaField(
        _l("Your message"),
        validators=[
            DataRequired(message=_l("Write your message.")),
            Length(max=TEXT_MAX, message=_l("At most %(max)d characters.")),
        ],
        description=_l(
            "Only the officers handling your report read it. Do not write your name unless "
            "you want them to know it."
        ),
        filters=[_newlines],
        render_kw={"rows": 5, "maxlength": TEXT_MAX},
    )


class ObjectionForm(FlaskForm):
    """An objection to the conclusion (once, within the objection window)."""

    reason = TextAreaField(
        _l("Why you disagree with the conclusion"),
        validators=[
            DataRequired(message=_l("Say why you disagree with the conclusion.")),
            Length(max=TEXT_MAX, message=_l("At most %(max)d characters.")),
        ],
        filters=[_newlines],
        render_kw={"rows": 5, "maxlength": TEXT_MAX},
    )
