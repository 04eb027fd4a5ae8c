"""Forms of the reward rule set pages: add a version (upload or paste JSON), withdraw one,
and try a quote under a rule set (a preview, nothing recorded)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, IntegerField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Optional

from rewards.rules.rule_sets import GRADES, MAX_DOCUMENT_CHARS
from staff_site.forms.validators import NumberRange

STATUS_LABELS = {
    "in_force": _l("in force"),
    "future": _l("not yet in force"),
    "superseded": _l("superseded"),
    "expired": _l("expired"),
    "withdrawn": _l("withdrawn"),
}
VERIFICATION_LABELS = {
    "verified": _l("verified"),
    "partial": _l("partly verified"),
    "unverified": _l("unverified"),
}
ORIGIN_LABELS = {
    "shipped": _l("shipped with Qingling"),
    "admin": _l("added by an administrator"),
}
KIND_LABELS = {
    "hazard": _l("Hazard or illegal production (share of the penalty)"),
    "concealed_accident": _l("Concealed or falsely reported accident"),
}
GRADE_LABELS = {
    "一般": _l("ordinary (一般)"),
    "较大": _l("relatively major (较大)"),
    "重大": _l("major (重大)"),
    "特别重大": _l("especially major (特别重大)"),
}


class RuleSetForm(FlaskForm):
    """A new rule set version: a JSON file, or the JSON pasted (one of the two)."""

    file = FileField(
        _l("Rule set file (JSON)"),
        description=_l("A rule set in format 1; download a shipped one below as a starting point."),
        render_kw={"accept": ".json,application/json"},
    )
    document = TextAreaField(
        _l("Or paste the JSON"),
        validators=[Optional()],
        render_kw={"rows": 16, "spellcheck": "false", "autocomplete": "off"},
    )

    def json_text(self) -> str | None:
        """The document from the file or the text box; None (with a form error) when neither
        or both were given, or the file is not UTF-8 text of an acceptable size."""
        upload = self.file.data
        pasted = (self.document.data or "").strip()
        has_file = upload is not None and bool(getattr(upload, "filename", None))
        if has_file and pasted:
            self.form_errors.append(_l("Upload a file or paste the JSON, not both."))
            return None
        if not has_file and not pasted:
            self.form_errors.append(_l("Upload a file or paste the JSON."))
            return None
        if pasted:
            return pasted
        raw = upload.read(MAX_DOCUMENT_CHARS * 4 + 1)
        if len(raw) > MAX_DOCUMENT_CHARS * 4:
            self.file.errors = [_l("The file is too large for a rule set.")]
            return None
        try:
            return str(raw.decode("utf-8-sig"))
        except UnicodeDecodeError:
            self.file.errors = [_l("The file is not UTF-8 text.")]
            return None


class WithdrawForm(FlaskForm):
    confirm = BooleanField(
        _l("Withdraw this version; it will never come into force"),
        validators=[InputRequired(message=_l("Tick the box to confirm."))],
    )


class QuoteForm(FlaskForm):
    """Try the rule set on a case (a GET form: it changes nothing)."""

    class Meta:
        csrf = False

    kind = SelectField(_l("Kind of matter"), choices=[], default="hazard")
    penalties = TextAreaField(
        _l("Fines (yuan)"),
        validators=[Optional()],
        description=_l(
            "One fine a line, at most two decimals; the fines on the unit and its responsible "
            "persons are added together."
        ),
        render_kw={"rows": 3, "inputmode": "decimal", "autocomplete": "off"},
    )
    no_penalty = BooleanField(_l("Verified and rectified with no penalty"))
    grade = SelectField(_l("Finally confirmed accident grade"), choices=[], validators=[Optional()])
    deaths = IntegerField(
        _l("Verified concealed deaths"),
        validators=[Optional(), NumberRange(min=1, max=100_000)],
        render_kw={"inputmode": "numeric"},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Built per request: the labels are translated into the reader's language.
        self.kind.choices = [SelectChoice(k, str(v)) for k, v in KIND_LABELS.items()]
        self.grade.choices = [SelectChoice("", "—")] + [
            SelectChoice(g.name, str(GRADE_LABELS[g.name])) for g in GRADES
        ]
