"""The staff site's forms, one module per area."""

from __future__ import annotations

from flask_wtf import FlaskForm


def page_status(form: FlaskForm, status: int = 200) -> int:
    """The HTTP status of a page that shows ``form``: 400 once a submission was refused (an
    error on any field or on the form), otherwise ``status`` (a refusal's own 401, 429 …)."""
    return 400 if status == 200 and form.errors else status
