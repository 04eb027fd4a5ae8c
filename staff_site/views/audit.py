"""The auditor's page: search the audit trail, page through it, and see whether it verifies.

Each visit also runs :func:`core.audit.services.verify`, which walks the whole chain (reading
every record in batches). That is cheap at the size of one city's trail — tens of thousands of
records — and shows the auditor the state of the chain without a trip to the CLI; should the
trail grow into the millions, move the check to a scheduled job and show its last result here.
Reading the trail is not itself recorded (exports, when they come, will be).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask import Blueprint, render_template, request
from flask_babel import gettext

from core.accounts.models import Role
from core.audit import services as audit
from core.audit.models import AuditRecord
from core.clock import local
from core.web import db_session
from staff_site.auth import current_user, login_required, roles_required
from staff_site.forms import page_status
from staff_site.forms.audit import AuditSearchForm

bp = Blueprint("audit", __name__, url_prefix="/audit")

PAGE_SIZE = 50
_CURSORS = ("after", "before")


@dataclass(frozen=True)
class Row:
    record: AuditRecord
    at_local: dt.datetime
    details: str


def _cursor(name: str) -> int | None:
    value = request.args.get(name, type=int)
    return value if value is not None and value >= 0 else None


@bp.get("/")
@login_required
@roles_required(Role.AUDITOR)
def index() -> tuple[str, int]:
    form = AuditSearchForm(formdata=request.args)
    filters = audit.AuditFilters()
    valid = form.validate()
    if valid:
        filters = audit.AuditFilters(
            actor_label=form.actor.data or "",
            action_prefix=form.action.data or "",
            object_type=form.object_type.data or "",
            object_id=form.object_id.data or "",
            date_from=form.date_from.data,
            date_to=form.date_to.data,
        )
    page = None
    if valid:
        after = _cursor("after")
        page = audit.search(
            db_session(),
            current_user(),
            filters,
            after_seq=after,
            before_seq=None if after is not None else _cursor("before"),
            limit=PAGE_SIZE,
        )
    rows = [
        Row(rec, local(rec.at), audit.pretty_details(rec.details))
        for rec in (page.records if page else [])
    ]
    keep = {k: v for k, v in request.args.items() if k not in _CURSORS and v}
    chain = audit.verify(db_session())
    problem = gettext(chain.reason, **chain.params) if chain.reason else None
    return render_template(
        "staff_site/audit/index.html",
        form=form,
        page=page,
        rows=rows,
        keep=keep,
        chain=chain,
        problem=problem,
        head=audit.head(db_session()),
        filtered=any(v for k, v in keep.items()),
    ), page_status(form)
