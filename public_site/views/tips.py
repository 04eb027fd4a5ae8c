"""The tip form and the receipt.

* ``GET /report`` shows the form; ``POST /report/search`` (the form's "Search" button) shows it
  again with the facilities found, everything typed kept. The search term travels in a POST
  body, never in a URL, so it lands in no request log, Referer or browser history.
* ``POST /report`` stores the tip (``intake.services.receive_tip``) and answers with the receipt
  itself: the token is in that response only (never a redirect, cookie, flash or URL), which is
  ``Cache-Control: no-store`` like every page here.
* ``POST /report/token.txt`` is "save as a text file" without JavaScript: the receipt page posts
  the token back and gets it as a download. A ``data:`` link would need no round trip, but
  browsers keep a download's source URL in their download history, so the token would sit
  there; the POST keeps it out of every URL. The server only echoes a well-formed token: it is
  not derived, looked up, stored or logged.

**Honeypot.** The form has a field that people never see (hidden by the stylesheet, out of the
tab order, labelled "leave this empty"). When it is filled, nothing is stored and the answer is
a receipt like any other, with a fresh well-formed token that belongs to no tip, after the same
token derivation (``intake.services.decoy_token``): a bot learns nothing that would teach it to
avoid the field. A person whose browser filled it would find later that the token opens nothing;
that risk is accepted because the field's name is one no autofill uses.
"""

from __future__ import annotations

from typing import BinaryIO, cast

from flask import Blueprint, Response, make_response, render_template, request
from flask_babel import get_locale, gettext
from werkzeug.datastructures import FileStorage
from wtforms.fields.choices import SelectChoice

from core.errors import InvalidInput
from core.web import clock, db_session, rollback_request, settings_of
from crypto import tokens
from crypto.errors import InvalidToken
from intake.models import Channel
from intake.services import SHORT_TEXT_MAX, TipSubmission, decoy_token, receive_tip
from public_site.forms.reporter import TokenFileForm
from public_site.forms.tips import (
    HONEYPOT,
    TipForm,
    category_of,
    honeypot_filled,
    relationship_of,
)
from public_site.views.common import UNAVAILABLE, form_error, message_of, unavailable_page
from registry.services import FacilityHit, get_facility_hit, list_divisions, search_facilities

bp = Blueprint("tips", __name__)

#: Service field names that the form calls otherwise.
FORM_FIELDS = {"division_id": "division", "attachments": "files"}


def _division_choices(form: TipForm) -> None:
    form.division.choices = [SelectChoice("", gettext("Choose…"))] + [
        SelectChoice(d.id, d.name if get_locale().language == "zh" else (d.name_en or d.name))
        for d in list_divisions(db_session())
    ]


def _render_form(
    form: TipForm, *, hits: list[FacilityHit] | None = None, status: int = 200
) -> tuple[str, int]:
    _division_choices(form)
    chosen = None
    if isinstance(form.facility_id.data, int) and form.facility_id.data > 0:
        chosen = get_facility_hit(db_session(), form.facility_id.data)
    return (
        render_template(
            "public_site/report.html",
            form=form,
            hits=hits,
            chosen=chosen,
            searched=hits is not None,
            short_text_max=SHORT_TEXT_MAX,
            honeypot_name=HONEYPOT,
        ),
        status,
    )


@bp.get("/report")
def new() -> tuple[str, int]:
    return _render_form(TipForm())


@bp.post("/report/search")
def search() -> tuple[str, int]:
    """The "Search" button of the form (CSRF checked like every POST); nothing is validated
    or stored, the term is used once and forgotten."""
    form = TipForm()
    hits = search_facilities(db_session(), form.facility_query.data or "")
    return _render_form(form, hits=hits)


def _uploads() -> list[FileStorage]:
    # A file input left empty still sends one part, with no file name and no content.
    return [f for f in request.files.getlist("files") if f.filename]


def _receipt(token: tokens.TrackingToken) -> tuple[str, int]:
    return render_template(
        "public_site/receipt.html",
        token=token.display,
        file_form=TokenFileForm(token=token.display),
    ), 200


@bp.post("/report")
def submit() -> tuple[str, int]:
    form = TipForm()
    _division_choices(form)
    if not form.validate():
        return _render_form(form, status=400)
    try:
        if honeypot_filled(form):
            return _receipt(decoy_token(db_session(), settings_of()))
        facility_id = form.facility_id.data if form.facility_id.data else None
        receipt = receive_tip(
            db_session(),
            clock(),
            settings_of(),
            TipSubmission(
                description=form.description.data or "",
                category=category_of(form),  # type: ignore[arg-type]
                division_id=form.division.data,
                location=form.location.data or "",
                facility_id=facility_id,
                facility_name="" if facility_id else (form.facility_name.data or ""),
                observed_when=form.observed_when.data or "",
                relationship=relationship_of(form),
                contact=form.contact.data or "",
                real_name=form.real_name.data or "",
                channel=Channel.WEB,
            ),
            [cast(BinaryIO, f.stream) for f in _uploads()],
        )
    except UNAVAILABLE:
        return unavailable_page()
    except InvalidInput as exc:
        rollback_request()  # rows flushed before the error must not be committed
        field = FORM_FIELDS.get(getattr(exc, "field", ""), getattr(exc, "field", ""))
        form_error(form, field, message_of(exc))
        return _render_form(form, status=exc.status)
    return _receipt(receipt.token)


@bp.post("/report/token.txt")
def token_file() -> Response:
    form = TokenFileForm()
    try:
        if not form.validate():
            raise InvalidToken("empty", "empty")
        token = tokens.parse_token(form.token.data or "")
    except InvalidToken:
        response = make_response(gettext("This is not a tracking token."), 400)
        response.mimetype = "text/plain"
        return response
    text = "\r\n".join(
        [
            gettext("Qingling hazard reporting: tracking token"),
            "",
            token.display,
            "",
            gettext(
                "Keep this file where nobody else can read it. Anyone with the token can read "
                "your report. Use it on the site's “Follow your report” page."
            ),
            "",
        ]
    )
    response = make_response(text)
    response.content_type = "text/plain; charset=utf-8"
    response.headers["Content-Disposition"] = 'attachment; filename="qingling-token.txt"'
    return response
