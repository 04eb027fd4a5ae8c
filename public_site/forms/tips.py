"""The tip form. It checks the shape of the input; ``intake.services`` checks the rules (and
checks again), so the JSON API and the form refuse the same things."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import MultipleFileField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from intake.models import Relationship, TipCategory
from intake.services import DESCRIPTION_MAX, DESCRIPTION_MIN, SHORT_TEXT_MAX
from public_site.labels import CATEGORY_LABELS, RELATIONSHIP_LABELS
from registry.services import SEARCH_MAX

#: The honeypot field's name: a plausible word, but not one browsers autofill.
HONEYPOT = "extra_notes_2"


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


def _optional_int(value: object) -> int | None:
    """'' → None; digits → int; anything else → -1, which the service refuses by name."""
    if value is None or value == "":
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    return int(text) if text.isdigit() and len(text) <= 9 else -1


class TipForm(FlaskForm):
    description = TextAreaField(
        _l("What is the hazard?"),
        filters=[_strip],
        validators=[DataRequired(), Length(min=DESCRIPTION_MIN, max=DESCRIPTION_MAX)],
        description=_l(
            "What you saw, where exactly, since when, and who is at risk. At least 10 "
            "characters. Leave out anything that points to you, such as your shift or what only "
            "you could know."
        ),
        render_kw={"rows": 8, "maxlength": DESCRIPTION_MAX},
    )
    category = RadioField(
        _l("What kind of hazard is it?"),
        choices=[SelectChoice(c.value, label) for c, label in CATEGORY_LABELS.items()],
        validators=[InputRequired(message=_l("Choose a hazard category."))],
    )
    division = SelectField(
        _l("Town or street"),
        coerce=_optional_int,
        validate_choice=False,  # the service refuses an unknown division
        validators=[InputRequired(message=_l("Choose the town or street."))],
        description=_l("Where the place is. The report goes to the officers responsible there."),
    )
    facility_query = StringField(
        _l("Find the facility"),
        filters=[_strip],
        validators=[Optional(), Length(max=SEARCH_MAX)],
        description=_l(
            "Part of its name or address. The search is not recorded. Searching reloads this "
            "page: what you typed is kept, files you chose must be chosen again."
        ),
        render_kw={"autocomplete": "off", "maxlength": SEARCH_MAX, "inputmode": "search"},
    )
    facility_id = RadioField(
        _l("Registered facility"),
        coerce=_optional_int,
        validate_choice=False,  # the choices are search results; the service checks the id
        validators=[Optional()],
    )
    facility_name = StringField(
        _l("Name of the place, if it is not in the list"),
        filters=[_strip],
        validators=[Optional(), Length(max=SHORT_TEXT_MAX)],
        render_kw={"maxlength": SHORT_TEXT_MAX},
    )
    location = TextAreaField(
        _l("Where exactly?"),
        filters=[_strip],
        validators=[Optional(), Length(max=SHORT_TEXT_MAX)],
        description=_l("Address, building, floor or room, as far as it helps to find the hazard."),
        render_kw={"rows": 2, "maxlength": SHORT_TEXT_MAX},
    )
    observed_when = StringField(
        _l("When did you see it?"),
        filters=[_strip],
        validators=[Optional(), Length(max=SHORT_TEXT_MAX)],
        description=_l("In your own words, e.g. “last week”, “every night since March”."),
        render_kw={"maxlength": SHORT_TEXT_MAX},
    )
    relationship = RadioField(
        _l("How do you know about it?"),
        choices=[SelectChoice(r.value, label) for r, label in RELATIONSHIP_LABELS.items()],
        validators=[InputRequired(message=_l("Choose how you know about the hazard."))],
        description=_l("This helps officers judge the report; it is encrypted like the rest."),
    )
    files = MultipleFileField(
        _l("Photos and files (optional)"),
        description=_l(
            "Up to 10 files, 20 MB each and 100 MB together: photos (JPEG, PNG, WebP, HEIC), "
            "PDF, MP4 videos, Word (.docx) and Excel (.xlsx) files."
        ),
        render_kw={
            "accept": ".jpg,.jpeg,.png,.webp,.heic,.heif,.pdf,.mp4,.docx,.xlsx,"
            "image/jpeg,image/png,image/webp,image/heic,application/pdf,video/mp4"
        },
    )
    contact = StringField(
        _l("Contact details (optional)"),
        filters=[_strip],
        validators=[Optional(), Length(max=SHORT_TEXT_MAX)],
        description=_l(
            "Only if you want officers to be able to reach you outside this site, e.g. a phone "
            "number or e-mail address. Anything you give here can identify you. You do not need "
            "it to follow your report or to receive a reward: the tracking token does both."
        ),
        render_kw={"maxlength": SHORT_TEXT_MAX, "autocomplete": "off"},
    )
    real_name = StringField(
        _l("Report under your real name (optional)"),
        filters=[_strip],
        validators=[Optional(), Length(max=SHORT_TEXT_MAX)],
        description=_l(
            "Leave empty to report anonymously. A real-name report (实名举报) is read by the same "
            "officers and is encrypted in the same way; the law protects real-name reporters, "
            "and some procedures give them a reply in writing. Rewards do not depend on it: "
            "they are claimed anonymously with the tracking token."
        ),
        render_kw={"maxlength": SHORT_TEXT_MAX, "autocomplete": "off"},
    )


def set_honeypot(form_class: type[TipForm]) -> None:
    """Add the honeypot field under its odd name (WTForms takes names from attributes)."""
    setattr(
        form_class,
        HONEYPOT,
        StringField(
            _l("Leave this field empty"),
            validators=[Optional()],
            render_kw={"autocomplete": "off", "tabindex": "-1"},
        ),
    )


set_honeypot(TipForm)


def honeypot_filled(form: TipForm) -> bool:
    field: Any = getattr(form, HONEYPOT)
    return bool((field.data or "").strip())


def category_of(form: TipForm) -> TipCategory | str:
    value = form.category.data or ""
    try:
        return TipCategory(value)
    except ValueError:
        return value


def relationship_of(form: TipForm) -> Relationship | None:
    try:
        return Relationship(form.relationship.data or "")
    except ValueError:
        return None
