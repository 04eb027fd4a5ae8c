"""The hostile corpus through the staff forms whose text other people read: triage (questions
to the reporter, notes, explanations, conclusions, a case opened from a tip), hazard cases
(descriptions, plans, progress, enforcement, acceptance, re-check, interviews, circulars, the
public summary), the registry (every facility field, equipment, facility types, divisions),
rewards (decisions, send-back notes, payments), accounts, the login form and the query
strings of every list page; then the exports of what was stored.

Each form is first sent once with ordinary values (it must succeed, so the hostile runs are
not refused for some other reason), then once per hostile text with the text in every field
listed. Answers are a success or a clear 4xx, never a 500; the page that shows what was stored
carries no injected markup; exported spreadsheets open and hold no formula."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import select

from cases.models import CaseState
from core.accounts import services as accounts
from core.accounts.models import User
from intake.models import TipState
from public_site.limits import limiter_of
from registry.fields import FIELDS, Kind
from registry.models import FacilityTypeRecord
from rewards.models import RewardState
from tests.cases.conftest import ITEM, CaseWorld, case_world, png_bytes
from tests.hostile import corpus
from tests.hostile.conftest import Verdicts, undone
from tests.hostile.corpus import STRINGS, Hostile, multipart, tried
from tests.rewards.conftest import RewardWorld
from tests.triage.conftest import world

__all__ = ["case_world", "world"]

#: The texts sent to fields that are not free text (numbers, dates, choices, ids): a sample of
#: every family, so each such field still meets every kind of hostility once.
SAMPLE = tuple(
    item
    for item in STRINGS
    if item.id
    in {
        "script",
        "attr-break",
        "sql-or",
        "sql-union",
        "path-unix",
        "crlf-cookie",
        "bidi-rlo",
        "confusable-fullwidth-token",
        "lone-surrogate",
        "nul",
        "c0-controls",
        "empty",
        "spaces",
        "long-word",
        "deep-brackets",
        "number-huge",
        "number-giant",
        "number-superscript",
        "number-other-digits",
        "number-negative",
        "number-float",
        "number-nan",
        "number-hex",
        "uuid-nil",
        "formula-cmd",
        "format-percent",
        "template-jinja",
        "nfkc-expansion",
    }
)


@dataclass
class Staff:
    """The staff app, a signed-in client per person, and the objects the forms act on."""

    app: Flask
    cw: CaseWorld
    rw: RewardWorld
    connection: Any
    clients: dict[str, FlaskClient] = field(default_factory=dict)
    ids: dict[str, Any] = field(default_factory=dict)

    def client(self, who: str) -> FlaskClient:
        return self.clients[who]

    def undone(self) -> Any:
        return undone(self.connection, self.cw.dbs)


def _sign_in(app: Flask, cw: CaseWorld, user: User, key: bytes | None = None) -> FlaskClient:
    client = app.test_client()
    cookie = accounts.open_session(cw.dbs, cw.clock, cw.settings, user, personal_private_key=key)
    cw.dbs.flush()
    with client.session_transaction() as flask_session:
        flask_session["sid"] = cookie
        flask_session["lang"] = "en"
    return client


@pytest.fixture
def staff(staff_app: Flask, case_world: CaseWorld, connection: Any) -> Staff:
    cw = case_world
    w = cw.w
    rw = RewardWorld(w)
    ids: dict[str, Any] = {}
    # Rewards first: reaching an offer moves the clock on.
    ids["reward_decision"] = rw.reward(rw.concluded()).id  # awaiting the penalty decision
    _, ids["reward_calculated"] = rw.to_state(RewardState.CALCULATED)
    _, ids["reward_claimed"] = rw.to_state(RewardState.CLAIMED)
    tips = {
        "tip_submitted": TipState.SUBMITTED,
        "tip_verifying": TipState.VERIFYING,
        "tip_substantiated": TipState.SUBSTANTIATED,
        "tip_rechecking": TipState.RECHECKING,
    }
    for name, state in tips.items():
        ids[name] = w.submit()
        w.drive(ids[name], state)
    ids["tip_original"] = w.submit()
    w.drive(ids["tip_original"], TipState.ACCEPTED)
    ids["case_open"] = cw.open()
    for case_name, case_state in (
        ("case_rectifying", CaseState.RECTIFYING),
        ("case_awaiting", CaseState.AWAITING_ACCEPTANCE),
        ("case_closed", CaseState.CLOSED),
    ):
        ids[case_name] = cw.open()
        cw.drive(ids[case_name], case_state)
    ids["case_overdue"] = cw.open()
    cw.plan(ids["case_overdue"], days=1)
    cw.clock.advance(days=3)
    ids["facility"] = cw.facility_own
    ids["type"] = cw.dbs.scalar(
        select(FacilityTypeRecord.id).where(FacilityTypeRecord.code == "elderly_care_home")
    )
    ids["division"] = w.own
    ids["user"] = cw.user("auditor").id
    triage = w.staff("triage_city")
    clients = {
        "triage": _sign_in(staff_app, cw, triage.user, triage.key),
        "officer": _sign_in(staff_app, cw, cw.user("officer")),
        "officer2": _sign_in(staff_app, cw, cw.user("officer2")),
        "supervisor": _sign_in(staff_app, cw, cw.user("supervisor")),
        "administrator": _sign_in(staff_app, cw, cw.user("administrator")),
        "finance": _sign_in(staff_app, cw, rw.finance("officer").user, rw.finance("officer").key),
        "approver": _sign_in(
            staff_app, cw, rw.finance("approver").user, rw.finance("approver").key
        ),
    }
    return Staff(staff_app, cw, rw, connection, clients, ids)


# ---------------------------------------------------------------- the forms


@dataclass(frozen=True)
class Form:
    """One staff form: who sends it, where, its ordinary values, the fields that get the
    hostile text and the page that shows what was stored."""

    id: str
    who: str
    url: Callable[[dict[str, Any]], str]
    base: Callable[[Staff], dict[str, str]]
    hostile: tuple[str, ...]
    page: Callable[[dict[str, Any]], str]
    prefix: str = ""
    undo: bool = True  # each text on the same starting state (a transition happens once)
    texts: tuple[Hostile, ...] = STRINGS
    files: bool = False  # an evidence file is required
    baseline: bool = True  # the ordinary values succeed


def tip(name: str, action: str = "") -> Callable[[dict[str, Any]], str]:
    return lambda ids: f"/triage/tips/{ids[name]}" + (f"/{action}" if action else "")


def case(name: str, action: str = "") -> Callable[[dict[str, Any]], str]:
    return lambda ids: f"/cases/{ids[name]}" + (f"/{action}" if action else "")


def fixed(path: str) -> Callable[[dict[str, Any]], str]:
    return lambda _ids: path


def _today(s: Staff) -> str:
    return s.cw.today.isoformat()


def _facility_base(s: Staff) -> dict[str, str]:
    """Every field as a browser sends the blank form (selects as "Not recorded"), and the
    three a facility needs."""
    return {
        **{spec.name: "" for spec in FIELDS if spec.kind is not Kind.EQUIPMENT},
        "key_supervision": "",
        "name": f"敌意测试养老院{uuid.uuid4().hex[:6]}",
        "division": str(s.ids["division"]),
        "facility_type": str(s.ids["type"]),
        "status": "operating",
    }


FACILITY_TEXT = tuple(s.name for s in FIELDS if s.kind in {Kind.TEXT, Kind.PHONE})
FACILITY_OTHER = tuple(
    s.name
    for s in FIELDS
    if s.kind not in {Kind.TEXT, Kind.PHONE, Kind.EQUIPMENT} and s.name != "key_supervision"
)
LONG_TEXT = "经现场核查，二楼消防通道确被杂物堵塞。"


FORMS: tuple[Form, ...] = (
    # -------------------------------------------------------------- triage
    Form(
        "not accept",
        "triage",
        tip("tip_submitted", "not-accept"),
        lambda s: {"reason": "outside_remit", "text": LONG_TEXT},
        ("text",),
        tip("tip_submitted"),
        prefix="not_accept",
        texts=SAMPLE,
    ),
    Form(
        "transfer",
        "triage",
        tip("tip_submitted", "transfer"),
        lambda s: {"regulator": "市场监管局", "note": LONG_TEXT},
        ("regulator", "note"),
        tip("tip_submitted"),
        prefix="transfer",
        texts=SAMPLE,
    ),
    Form(
        "duplicate",
        "triage",
        tip("tip_submitted", "duplicate"),
        lambda s: {"original": str(s.ids["tip_original"])},
        ("original",),
        tip("tip_submitted"),
        prefix="mark_duplicate",
        texts=SAMPLE,
    ),
    Form(
        "question to the reporter",
        "triage",
        tip("tip_verifying", "ask"),
        lambda s: {"body": "请问杂物是哪天开始堆放的？"},
        ("body",),
        tip("tip_verifying"),
        prefix="ask",
    ),
    Form(
        "internal note",
        "triage",
        tip("tip_verifying", "note"),
        lambda s: {"body": LONG_TEXT},
        ("body",),
        tip("tip_verifying"),
        prefix="note",
        undo=False,
    ),
    Form(
        "extension",
        "triage",
        tip("tip_verifying", "extend"),
        lambda s: {"days": "10", "reason": LONG_TEXT},
        ("reason",),
        tip("tip_verifying"),
        prefix="extend_verification",
        texts=SAMPLE,
    ),
    Form(
        "extension days",
        "triage",
        tip("tip_verifying", "extend"),
        lambda s: {"days": "10", "reason": LONG_TEXT},
        ("days",),
        tip("tip_verifying"),
        prefix="extend_verification",
        texts=SAMPLE,
    ),
    Form(
        "conclusion",
        "triage",
        tip("tip_verifying", "conclude"),
        lambda s: {"outcome": "substantiated", "text": LONG_TEXT},
        ("text",),
        tip("tip_verifying"),
        prefix="conclude",
    ),
    Form(
        "conclusion outcome",
        "triage",
        tip("tip_verifying", "conclude"),
        lambda s: {"outcome": "substantiated", "text": LONG_TEXT},
        ("outcome",),
        tip("tip_verifying"),
        prefix="conclude",
        texts=SAMPLE,
    ),
    Form(
        "re-check conclusion",
        "triage",
        tip("tip_rechecking", "conclude-recheck"),
        lambda s: {"outcome": "substantiated", "text": LONG_TEXT},
        ("text",),
        tip("tip_rechecking"),
        prefix="conclude_recheck",
        texts=SAMPLE,
    ),
    Form(
        "case from a tip",
        "triage",
        tip("tip_substantiated", "case"),
        lambda s: {
            "standard_items": ITEM,
            "description": LONG_TEXT,
            "passages": "",
            "open_case": "y",
        },
        ("description", "passages"),
        tip("tip_substantiated"),
        prefix="case",
    ),
    Form(
        "case from a tip, items",
        "triage",
        tip("tip_substantiated", "case"),
        lambda s: {
            "standard_items": ITEM,
            "description": LONG_TEXT,
            "passages": "",
            "open_case": "y",
        },
        ("standard_items",),
        tip("tip_substantiated"),
        prefix="case",
        texts=SAMPLE,
    ),
    Form(
        "redaction",
        "triage",
        tip("tip_substantiated", "case"),
        lambda s: {
            "standard_items": ITEM,
            "description": LONG_TEXT + "王小明",
            "passages": "王小明",
            "redact": "y",
        },
        ("description", "passages"),
        tip("tip_substantiated"),
        prefix="case",
        baseline=False,
        texts=SAMPLE,
    ),
    # -------------------------------------------------------------- cases
    Form(
        "new case",
        "officer",
        fixed("/cases/new"),
        lambda s: {
            "source": "inspection",
            "division": str(s.cw.w.own),
            "facility": str(s.ids["facility"]),
            "category": "fire",
            "discovered_on": _today(s),
            "standard_items": ITEM,
            "place_class": "",
            "description": LONG_TEXT,
            "deadline": "",
        },
        ("description",),
        fixed("/cases/"),
    ),
    Form(
        "new case, other fields",
        "officer",
        fixed("/cases/new"),
        lambda s: {
            "source": "inspection",
            "division": str(s.cw.w.own),
            "facility": str(s.ids["facility"]),
            "category": "fire",
            "discovered_on": _today(s),
            "standard_items": ITEM,
            "place_class": "",
            "description": LONG_TEXT,
            "deadline": "",
        },
        (
            "source",
            "division",
            "facility",
            "category",
            "discovered_on",
            "standard_items",
            "place_class",
            "deadline",
        ),
        fixed("/cases/"),
        texts=SAMPLE,
    ),
    Form(
        "plan",
        "officer",
        case("case_open", "plan"),
        lambda s: {
            "responsibility": "院长张某负责。",
            "measures": "清理杂物。",
            "funds": "12500",
            "deadline": (s.cw.today + dt.timedelta(days=30)).isoformat(),
            "contingency_plan": "专人值守。",
        },
        ("responsibility", "measures", "contingency_plan"),
        case("case_open"),
        prefix="plan",
    ),
    Form(
        "plan numbers",
        "officer",
        case("case_open", "plan"),
        lambda s: {
            "responsibility": "院长张某负责。",
            "measures": "清理杂物。",
            "funds": "12500",
            "deadline": (s.cw.today + dt.timedelta(days=30)).isoformat(),
            "contingency_plan": "专人值守。",
        },
        ("funds", "deadline"),
        case("case_open"),
        prefix="plan",
        texts=SAMPLE,
    ),
    Form(
        "progress",
        "officer",
        case("case_rectifying", "progress"),
        lambda s: {"note": "杂物已清一半。"},
        ("note",),
        case("case_rectifying"),
        prefix="progress",
        undo=False,
    ),
    Form(
        "enforcement",
        "officer",
        case("case_rectifying", "enforcement"),
        lambda s: {
            "kind": "seal",
            "target": "二楼仓库",
            "start_on": _today(s),
            "end_on": "",
            "note": "查封。",
        },
        ("target", "note"),
        case("case_rectifying"),
        prefix="enforce",
        undo=False,
    ),
    Form(
        "enforcement dates",
        "officer",
        case("case_rectifying", "enforcement"),
        lambda s: {
            "kind": "seal",
            "target": "二楼仓库",
            "start_on": _today(s),
            "end_on": "",
            "note": "查封。",
        },
        ("kind", "start_on", "end_on"),
        case("case_rectifying"),
        prefix="enforce",
        texts=SAMPLE,
    ),
    Form(
        "submission",
        "officer",
        case("case_rectifying", "submit"),
        lambda s: {"note": "整改完成。"},
        ("note",),
        case("case_rectifying"),
        prefix="submit",
        texts=SAMPLE,
    ),
    Form(
        "refusal",
        "officer2",
        case("case_awaiting", "refuse"),
        lambda s: {"note": "仍有杂物。"},
        ("note",),
        case("case_awaiting"),
        prefix="refuse",
        texts=SAMPLE,
    ),
    Form(
        "acceptance",
        "officer2",
        case("case_awaiting", "accept"),
        lambda s: {"note": "验收合格。"},
        ("note",),
        case("case_awaiting"),
        prefix="accept",
        files=True,
        texts=SAMPLE,
    ),
    Form(
        "re-check",
        "officer",
        case("case_closed", "recheck"),
        lambda s: {"note": "回头看通过。"},
        ("note",),
        case("case_closed"),
        prefix="recheck",
        texts=SAMPLE,
    ),
    Form(
        "relapse",
        "officer",
        case("case_closed", "relapse"),
        lambda s: {
            "note": "再次堆放杂物。",
            "deadline": (s.cw.today + dt.timedelta(days=10)).isoformat(),
        },
        ("note",),
        case("case_closed"),
        prefix="relapse",
        texts=SAMPLE,
    ),
    Form(
        "interview",
        "supervisor",
        case("case_overdue", "interviews"),
        lambda s: {
            "held_on": _today(s),
            "conducted_by": "李科长",
            "interviewee": "院长张某",
            "attendees": "王某",
            "content": "要求立即整改。",
            "commitments": "十日内完成。",
        },
        ("conducted_by", "interviewee", "attendees", "content", "commitments"),
        case("case_overdue"),
        prefix="interview",
        undo=False,
    ),
    Form(
        "circular",
        "supervisor",
        case("case_overdue", "circulars"),
        lambda s: {
            "number": "张民通〔2026〕3号",
            "issued_on": _today(s),
            "scope": "各区镇民政办",
            "text": "予以通报。",
        },
        ("number", "scope", "text"),
        case("case_overdue"),
        prefix="circular",
        undo=False,
    ),
    Form(
        "public example",
        "administrator",
        case("case_closed", "public-example"),
        lambda s: {"public": "y", "summary": "整改示范。"},
        ("summary",),
        fixed("/cases/public-examples"),
        prefix="public-{case_closed}",
    ),
    # -------------------------------------------------------------- registry
    Form(
        "new facility",
        "officer",
        fixed("/registry/new"),
        _facility_base,
        FACILITY_TEXT,
        fixed("/registry/"),
    ),
    Form(
        "new facility, other fields",
        "officer",
        fixed("/registry/new"),
        _facility_base,
        FACILITY_OTHER,
        fixed("/registry/"),
        texts=SAMPLE,
    ),
    Form(
        "new facility, division and type",
        "officer",
        fixed("/registry/new"),
        _facility_base,
        ("division", "facility_type"),
        fixed("/registry/"),
        texts=SAMPLE,
    ),
    Form(
        "facility edit",
        "officer",
        lambda ids: f"/registry/{ids['facility']}/edit",
        _facility_base,
        FACILITY_TEXT,
        lambda ids: f"/registry/{ids['facility']}",
    ),
    Form(
        "equipment",
        "officer",
        lambda ids: f"/registry/{ids['facility']}/equipment/new",
        lambda s: {
            "kind": "elevator",
            "quantity": "1",
            "registration_no": "梯11320582001",
            "next_inspection_on": "",
        },
        ("registration_no", "quantity", "kind", "next_inspection_on"),
        lambda ids: f"/registry/{ids['facility']}",
        texts=SAMPLE,
    ),
    Form(
        "equipment number",
        "officer",
        lambda ids: f"/registry/{ids['facility']}/equipment/new",
        lambda s: {
            "kind": "elevator",
            "quantity": "1",
            "registration_no": "梯11320582001",
            "next_inspection_on": "",
        },
        ("registration_no",),
        lambda ids: f"/registry/{ids['facility']}",
    ),
    Form(
        "facility type",
        "administrator",
        fixed("/registry/types/new"),
        lambda s: {
            "code": "hostile_test",
            "name_zh": "测试类型",
            "name_en": "Test type",
            "note": "备注",
            "sort_order": "90",
            "active": "y",
        },
        ("name_zh", "name_en", "note"),
        fixed("/registry/types/"),
    ),
    Form(
        "facility type code",
        "administrator",
        fixed("/registry/types/new"),
        lambda s: {
            "code": "hostile_test",
            "name_zh": "测试类型",
            "name_en": "Test type",
            "note": "备注",
            "sort_order": "90",
            "active": "y",
        },
        ("code", "sort_order"),
        fixed("/registry/types/"),
        texts=SAMPLE,
    ),
    Form(
        "division",
        "administrator",
        fixed("/admin/divisions/new"),
        lambda s: {
            "name": "测试镇",
            "name_en": "Test Town",
            "kind": "town",
            "code": "320582999",
            "management_area": "测试管理区",
            "sort_order": "99",
            "active": "y",
        },
        ("name", "name_en", "management_area"),
        fixed("/admin/divisions/"),
    ),
    Form(
        "division code",
        "administrator",
        fixed("/admin/divisions/new"),
        lambda s: {
            "name": "测试镇",
            "name_en": "Test Town",
            "kind": "town",
            "code": "320582999",
            "management_area": "测试管理区",
            "sort_order": "99",
            "active": "y",
        },
        ("code", "kind", "sort_order"),
        fixed("/admin/divisions/"),
        texts=SAMPLE,
    ),
    # -------------------------------------------------------------- rewards
    Form(
        "penalty decision",
        "finance",
        lambda ids: f"/rewards/{ids['reward_decision']}/decision",
        lambda s: {
            "kind": "hazard",
            "fines": "20000",
            "decision_number": "张民罚决字〔2026〕12号",
            "decision_date": _today(s),
            "grade": "",
            "deaths": "",
        },
        ("decision_number",),
        lambda ids: f"/rewards/{ids['reward_decision']}",
        prefix="decision",
    ),
    Form(
        "penalty decision, other fields",
        "finance",
        lambda ids: f"/rewards/{ids['reward_decision']}/decision",
        lambda s: {
            "kind": "hazard",
            "fines": "20000",
            "decision_number": "张民罚决字〔2026〕12号",
            "decision_date": _today(s),
            "grade": "",
            "deaths": "",
        },
        ("fines", "kind", "decision_date", "grade", "deaths"),
        lambda ids: f"/rewards/{ids['reward_decision']}",
        prefix="decision",
        texts=SAMPLE,
    ),
    Form(
        "send back",
        "approver",
        lambda ids: f"/rewards/{ids['reward_calculated']}/send-back",
        lambda s: {"note": "罚款金额有误。"},
        ("note",),
        lambda ids: f"/rewards/{ids['reward_calculated']}",
        prefix="send_back",
    ),
    Form(
        "payment",
        "finance",
        lambda ids: f"/rewards/{ids['reward_claimed']}/payment",
        lambda s: {
            "voucher_number": "记-2026-0007",
            "paid_on": _today(s),
            "amount": "3000.00",
            "claim_code": "",
        },
        ("voucher_number",),
        lambda ids: f"/rewards/{ids['reward_claimed']}",
        prefix="payment",
    ),
    Form(
        "payment, other fields",
        "finance",
        lambda ids: f"/rewards/{ids['reward_claimed']}/payment",
        lambda s: {
            "voucher_number": "记-2026-0007",
            "paid_on": _today(s),
            "amount": "3000.00",
            "claim_code": "",
        },
        ("amount", "claim_code", "paid_on"),
        lambda ids: f"/rewards/{ids['reward_claimed']}",
        prefix="payment",
        texts=SAMPLE,
    ),
    # -------------------------------------------------------------- accounts
    Form(
        "new user",
        "administrator",
        fixed("/admin/users/new"),
        lambda s: {
            "username": "hostile-user",
            "display_name": "测试用户",
            "roles": "auditor",
            "division": "",
        },
        ("username", "display_name"),
        fixed("/admin/users"),
    ),
    Form(
        "user display name",
        "administrator",
        lambda ids: f"/admin/users/{ids['user']}",
        lambda s: {"display_name": "审计员", "roles": "auditor", "division": ""},
        ("display_name",),
        fixed("/admin/users"),
    ),
)


def _fields(form: Form, staff: Staff, values: dict[str, bytes]) -> list[tuple[str, bytes]]:
    prefix = form.prefix.format(**{k: getattr(v, "hex", v) for k, v in staff.ids.items()})
    name = (lambda key: f"{prefix}-{key}") if prefix else (lambda key: key)
    token = _csrf(staff, form)
    return [(name("csrf_token"), token.encode()), *((name(k), v) for k, v in values.items())]


_CSRF: dict[tuple[int, str], str] = {}


def _csrf(staff: Staff, form: Form) -> str:
    """The session's CSRF token (one per session), read from the form's page once."""
    import re

    client = staff.client(form.who)
    key = (id(client), form.who)
    if key not in _CSRF:
        page = client.get(form.page(staff.ids)).get_data(as_text=True)
        if "csrf_token" not in page:
            page = client.get(form.url(staff.ids)).get_data(as_text=True)
        match = re.search(r'name="[^"]*csrf_token"[^>]*value="([^"]+)"', page)
        assert match, f"no CSRF token for {form.id}"
        _CSRF[key] = match.group(1)
    return _CSRF[key]


def send(staff: Staff, form: Form, values: dict[str, bytes]) -> Any:
    files = [
        ("{}files".format(f"{form.prefix}-" if form.prefix else ""), b"photo.png", png_bytes())
    ]
    body = multipart(_fields(form, staff, values), files if form.files else [])
    return staff.client(form.who).post(
        form.url(staff.ids),
        data=body,
        content_type="multipart/form-data; boundary=qingling-hostile",
    )


@pytest.fixture(autouse=True)
def _fresh_csrf() -> Iterator[None]:
    _CSRF.clear()
    yield
    _CSRF.clear()


#: Texts that go alone into a field: each is refused, trimmed or measured as a whole.
ALONE = frozenset(
    {
        "control",
        "unreadable",
        "long",
        "deep",
        "whitespace",
        "short",
        "number",
        "header",
        "formula",
        "unicode",
    }
)
BATCH = 4


def batched(texts: tuple[Hostile, ...]) -> list[Hostile]:
    """``texts`` as sent to a free-text field: those a field takes as they are (markup, SQL,
    paths, bidi, confusables, templates) four to a request, joined by spaces, the others alone.
    A staff request costs a decryption or two; this keeps each form's run short without
    leaving any text out of any field."""
    alone = [t for t in texts if t.tags & ALONE]
    rest = [t for t in texts if not t.tags & ALONE]
    joined = [
        Hostile(
            "+".join(t.id for t in rest[i : i + BATCH]),
            " ".join(t.value for t in rest[i : i + BATCH]),
            frozenset().union(*(t.tags for t in rest[i : i + BATCH])),
        )
        for i in range(0, len(rest), BATCH)
    ]
    return alone + joined


def run_form(staff: Staff, form: Form, verdicts: Verdicts) -> int:
    """The form once with its ordinary values, then once per text; the count of inputs."""
    base = {k: v.encode() for k, v in form.base(staff).items()}
    client = staff.client(form.who)
    if form.baseline:
        with staff.undone():
            response = send(staff, form, base)
            if response.status_code >= 400 or 'class="error' in response.get_data(as_text=True):
                verdicts.fail(
                    f"{form.id}: the ordinary values were refused ({response.status_code})"
                )
                return 0
    texts = form.texts if form.texts is SAMPLE else tuple(batched(form.texts))
    for item in texts:
        values = {**base, **dict.fromkeys(form.hostile, item.utf8)}
        if (
            "name" in form.hostile
            and "name" in base
            and form.id.startswith(("new facility", "facility edit"))
        ):
            values["name"] = item.utf8 + uuid.uuid4().hex[:4].encode()
        with staff.undone() if form.undo else nullcontext():
            response = send(staff, form, values)
            status = verdicts.check(f"{form.id} {item.id}", response)
            if form.undo and status in {302, 303} and "markup" in item.tags:
                verdicts.check(
                    f"{form.id} {item.id}: the page after", client.get(form.page(staff.ids))
                )
    if not form.undo:
        verdicts.check(f"{form.id}: the page with every text", client.get(form.page(staff.ids)))
    return len(form.texts) * len(form.hostile)


def _group_of(form: Form) -> str:
    url = form.url(_ANY)
    if url.startswith("/triage/"):
        return "triage"
    if url.startswith("/cases/"):
        return "cases"
    if url.startswith(("/registry/", "/admin/divisions/")):
        return "registry"
    return "rewards and accounts"


class _Any(dict[str, str]):
    """Ids for working out a form's URL without a world."""

    def __missing__(self, key: str) -> str:
        return "x"


_ANY = _Any()


@pytest.mark.parametrize("group", ["triage", "cases", "registry", "rewards and accounts"])
def test_staff_forms(staff: Staff, verdicts: Verdicts, group: str) -> None:
    count = sum(run_form(staff, form, verdicts) for form in FORMS if _group_of(form) == group)
    assert count, group
    tried(f"staff forms: {group}", count)


def test_case_evidence_files_and_names(staff: Staff, verdicts: Verdicts) -> None:
    form = next(f for f in FORMS if f.id == "progress")
    client = staff.client("officer")
    token = _csrf(staff, form)
    url = form.url(staff.ids)
    count = 0
    uploads = [(f"file {f.id}", f.name.encode(), f.data) for f in corpus.files()]
    uploads += [
        (f"name {n.id}", n.utf8, png_bytes()) for n in (*corpus.FILE_NAMES, *SAMPLE) if n.value
    ]
    for what, name, data in uploads:
        with staff.undone():
            body = multipart(
                [("progress-csrf_token", token.encode()), ("progress-note", "附照片。".encode())],
                [("progress-files", name, data)],
            )
            response = client.post(
                url, data=body, content_type="multipart/form-data; boundary=qingling-hostile"
            )
            status = verdicts.check(f"case evidence {what}", response)
            if status in {302, 303} and (
                what.startswith("file") or "markup" in what or "script" in what
            ):
                page = client.get(form.page(staff.ids))
                verdicts.check(f"case evidence {what}: the case page", page)
                for link in _evidence_links(page.get_data(as_text=True)):
                    download = client.get(link)
                    verdicts.check(f"case evidence {what}: download", download)
                    header = download.headers.get("Content-Disposition", "")
                    inline_ok = (download.mimetype or "").startswith("image/")
                    if any(c in header for c in "\r\n\x00") or not (
                        inline_ok or header.startswith("attachment")
                    ):
                        verdicts.fail(f"case evidence {what}: Content-Disposition {header[:80]!r}")
                    if download.headers.get("X-Content-Type-Options") != "nosniff":
                        verdicts.fail(f"case evidence {what}: the download may be sniffed")
        count += 1
    tried("staff case evidence: files and file names", count)


def _evidence_links(page: str) -> list[str]:
    import re

    return sorted(set(re.findall(r'href="(/cases/[0-9a-f-]+/evidence/[0-9a-f-]+)"', page)))


LIST_PAGES = {
    "triage": (
        "/triage/",
        (
            "state",
            "division",
            "category",
            "channel",
            "due_before",
            "overdue",
            "unanswered",
            "sort",
            "cursor",
        ),
    ),
    "officer": ("/cases/", ("state", "division", "overdue", "page")),
    "supervisor": ("/dashboard/", ("division", "year", "month", "from", "to")),
    "administrator": ("/registry/", ("q", "division", "facility_type", "status", "key", "page")),
    "finance": ("/rewards/", ("state", "division", "page")),
}


AUDIT_KEYS = (
    "action",
    "actor",
    "object_type",
    "object_id",
    "date_from",
    "date_to",
    "after",
    "before",
)


def test_query_strings_of_list_pages(staff: Staff, verdicts: Verdicts) -> None:
    count = 0
    extra = {
        "supervisor": ("/dashboard/export", ("division", "state", "from", "to", "format")),
        "finance": ("/rewards/totals", ("year",)),
        "administrator": ("/standards/", ("unverified",)),
    }
    pages = [(who, path, keys) for who, (path, keys) in LIST_PAGES.items()]
    pages += [(who, path, keys) for who, (path, keys) in extra.items()]
    pages.append(("administrator", "/reward-rules/", ("rule_set", "amount", "fines")))
    for item in SAMPLE:
        if not item.encodable:
            continue
        for who, path, keys in pages:
            response = staff.client(who).get(path, query_string=dict.fromkeys(keys, item.value))
            verdicts.check(f"GET {path} {item.id}", response)
            count += len(keys)
    audit = staff.rw.w.make_user("hostile-auditor", *_auditor_roles())
    auditor = _sign_in(staff.app, staff.cw, audit)
    for item in SAMPLE:
        if item.encodable:
            response = auditor.get(
                "/audit/",
                query_string=dict.fromkeys(AUDIT_KEYS, item.value),
            )
            verdicts.check(f"GET /audit/ {item.id}", response)
            count += len(AUDIT_KEYS)
    tried("staff query strings of list pages", count)


def _auditor_roles() -> tuple[Any, ...]:
    from core.accounts.models import Role

    return (Role.AUDITOR,)


def test_login_form(staff_app: Flask, verdicts: Verdicts) -> None:
    client = staff_app.test_client()
    import re

    page = client.get("/login").get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert match
    token = match.group(1).encode()
    for item in STRINGS:
        body = multipart([("csrf_token", token), ("username", item.utf8), ("password", item.utf8)])
        response = client.post(
            "/login", data=body, content_type="multipart/form-data; boundary=qingling-hostile"
        )
        if verdicts.check(f"login {item.id}", response) in {
            302,
            303,
        } and "totp" in response.headers.get("Location", ""):
            verdicts.fail(f"login {item.id}: a hostile login passed the password step")
        if item.encodable:
            response = client.get("/login", query_string={"next": item.value})
            verdicts.check(f"login next {item.id}", response)
    tried("staff login form (username, password, next)", len(STRINGS) * 3)


def test_exports_of_hostile_values(staff: Staff, verdicts: Verdicts) -> None:
    """Store every text in the fields that the exports carry, then export: each spreadsheet
    opens, holds no formula, and each file is answered without a 500."""
    officer = staff.client("officer")
    form = next(f for f in FORMS if f.id == "new facility")
    stored = 0
    for item in STRINGS:
        values = {k: v.encode() for k, v in form.base(staff).items()}
        values.update(dict.fromkeys(set(FACILITY_TEXT) - {"contact_phone"}, item.utf8))
        values["name"] = f"导出测试{stored}".encode() + item.utf8[:50]
        if send(staff, form, values).status_code in {302, 303}:
            stored += 1
    new_case = next(f for f in FORMS if f.id == "new case")
    for item in STRINGS:
        values = {k: v.encode() for k, v in new_case.base(staff).items()}
        values["description"] = item.utf8
        send(staff, new_case, values)
    assert stored > len(STRINGS) // 2, stored
    # Texts of the rewards export: a decision number and a voucher number that are formulas.
    decision = next(f for f in FORMS if f.id == "penalty decision")
    values = {k: v.encode() for k, v in decision.base(staff).items()}
    values["decision_number"] = b'=HYPERLINK("https://evil.example","\xef\xbf\xbe")'
    assert send(staff, decision, values).status_code in {302, 303}
    payment = next(f for f in FORMS if f.id == "payment")
    values = {k: v.encode() for k, v in payment.base(staff).items()}
    values["voucher_number"] = b"=cmd|' /C calc'!A0"
    assert send(staff, payment, values).status_code in {302, 303}
    token = _csrf(staff, form)
    for fmt in ("xlsx", "csv"):
        response = officer.post("/registry/export", data={"csrf_token": token, "fmt": fmt})
        _check_export(verdicts, f"registry export {fmt}", response, fmt)
    supervisor = staff.client("supervisor")
    for fmt in ("xlsx", "csv", "json"):
        response = supervisor.get(f"/dashboard/export.{fmt}")
        _check_export(verdicts, f"case export {fmt}", response, fmt)
    response = staff.client("finance").get("/rewards/export.xlsx")
    _check_export(verdicts, "reward export xlsx", response, "xlsx")
    tried("staff exports of stored hostile values", 6)


def _check_export(verdicts: Verdicts, what: str, response: Any, fmt: str) -> None:
    if verdicts.check(what, response) != 200:
        verdicts.fail(f"{what}: {response.status_code}")
        return
    data = response.get_data()
    if fmt != "xlsx":
        return
    try:
        book = load_workbook(io.BytesIO(data), read_only=False)
    except Exception as exc:  # the file must open
        verdicts.fail(f"{what}: the workbook does not open ({type(exc).__name__})")
        return
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    verdicts.fail(
                        f"{what}: a formula cell {cell.coordinate}: {str(cell.value)[:40]!r}"
                    )
                    return


def test_public_pages_show_staff_texts_escaped(
    staff: Staff, public_app: Flask, verdicts: Verdicts
) -> None:
    """A question to the reporter, the conclusion and a public example are read on the public
    site: store script payloads in them and read them there."""
    w = staff.cw.w
    limiter_of(public_app).enabled = False
    tip_id = staff.rw.submit()
    w.drive(tip_id, TipState.VERIFYING)
    triage = staff.client("triage")
    ask = next(f for f in FORMS if f.id == "question to the reporter")
    markup = [s for s in STRINGS if "markup" in s.tags]
    public = public_app.test_client()
    from tests.conftest import csrf_token

    public.post(
        "/status",
        data={"csrf_token": csrf_token(public, "/status"), "token": staff.rw.tokens[tip_id]},
    )
    for item in markup:
        with staff.undone():
            body = multipart(
                [("ask-csrf_token", _csrf(staff, ask).encode()), ("ask-body", item.utf8)]
            )
            response = triage.post(
                f"/triage/tips/{tip_id}/ask",
                data=body,
                content_type="multipart/form-data; boundary=qingling-hostile",
            )
            if verdicts.check(f"public question {item.id}", response) in {302, 303}:
                verdicts.check(
                    f"public status page, question {item.id}", public.get("/status/report")
                )
                verdicts.check(f"public API, question {item.id}", public.get("/status/report"))
    example = next(f for f in FORMS if f.id == "public example")
    admin = staff.client("administrator")
    for item in markup:
        with staff.undone():
            values = {"public": b"y", "summary": item.utf8}
            response = send(staff, example, values)
            if verdicts.check(f"public example {item.id}", response) in {302, 303}:
                verdicts.check(f"public statistics, example {item.id}", public.get("/statistics/"))
    del admin
    tried("staff texts read on the public site", len(markup) * 2)


def test_next_after_login(
    staff_client: FlaskClient, make_user: Any, login: Any, verdicts: Verdicts
) -> None:
    """A signed-in user sent to the login page goes on to ``next``: never off the site, never
    with a header of the attacker's."""
    from core.accounts.models import Role

    client = login(staff_client, make_user("hostile-next", Role.AUDITOR, totp=True))
    for item in STRINGS:
        if not item.encodable:
            continue
        response = client.get("/login", query_string={"next": item.value})
        verdicts.check(f"login next (signed in) {item.id}", response)
        location = response.headers.get("Location", "")
        if location.startswith("//") or "://" in location.split("?")[0]:
            verdicts.fail(f"login next {item.id}: sent off the site to {location[:60]!r}")
    tried("staff login next (signed in)", len([s for s in STRINGS if s.encodable]))


def test_hostile_paths(staff: Staff, public_app: Flask, verdicts: Verdicts) -> None:
    """Every text as a path segment: where the URL map takes a string (a rule set's id, a
    static file) and where it takes a number or a UUID (404 before any view runs)."""
    from urllib.parse import quote

    admin = staff.client("administrator")
    public = public_app.test_client()
    staff_paths = ("/reward-rules/{}", "/reward-rules/{}/download", "/cases/{}", "/registry/{}")
    public_paths = ("/static/{}", "/{}", "/api/v1/{}", "/wechat/{}")
    count = 0
    for item in SAMPLE + tuple(s for s in STRINGS if "path" in s.tags or "header" in s.tags):
        if not item.encodable:
            continue
        segment = quote(item.value, safe="")
        for path in staff_paths:
            verdicts.check(f"staff GET {path} {item.id}", admin.get(path.format(segment)))
        for path in public_paths:
            verdicts.check(f"public GET {path} {item.id}", public.get(path.format(segment)))
        count += len(staff_paths) + len(public_paths)
    tried("URL path segments (both sites)", count)


def test_accepted_hostile_files_download_safely(
    staff: Staff, public_app: Flask, verdicts: Verdicts
) -> None:
    """The hostile files intake accepts (a PDF with JavaScript, a PDF that is also an HTML page,
    a DOCX with traversing member names, pictures carrying HTML) reach the triage officer as
    downloads that no browser runs: pictures inline as pictures (re-encoded), anything else an
    attachment, never HTML, never sniffed."""
    import re

    from tests.conftest import csrf_token

    limiter_of(public_app).enabled = False
    public = public_app.test_client()
    accepted = [f for f in corpus.files() if f.accepted][:10]
    fields = [
        ("csrf_token", csrf_token(public, "/report").encode()),
        ("description", "二楼消防通道被杂物堵死。附件见后。".encode()),
        ("category", b"fire"),
        ("division", str(staff.cw.w.own).encode()),
        ("facility_name", "无名托老所".encode()),
        ("relationship", b"employee"),
    ]
    files = [("files", f.name.encode(), f.data) for f in accepted]
    response = public.post(
        "/report",
        data=multipart(fields, files),
        content_type="multipart/form-data; boundary=qingling-hostile",
    )
    assert response.status_code == 200, re.findall(
        r'class="error-text">([^<]*)<', response.get_data(as_text=True)
    )
    from intake.models import Tip

    tip_id = staff.cw.dbs.scalars(select(Tip.id).order_by(Tip.submitted_at.desc())).first()
    triage = staff.client("triage")
    page = triage.get(f"/triage/tips/{tip_id}").get_data(as_text=True)
    links = sorted(
        set(re.findall(r'href="(/triage/tips/[0-9a-f-]+/attachments/[0-9a-f-]+)"', page))
    )
    assert len(links) == len(accepted), (len(links), len(accepted))
    for link in links:
        download = triage.get(link)
        verdicts.check(f"attachment {link[-12:]}", download)
        data = download.get_data()
        header = download.headers.get("Content-Disposition", "")
        kind = download.mimetype or ""
        if download.headers.get("X-Content-Type-Options") != "nosniff":
            verdicts.fail(f"attachment {link}: may be sniffed")
        if "html" in kind or "svg" in kind or "javascript" in kind:
            verdicts.fail(f"attachment {link}: served as {kind}")
        if not kind.startswith("image/") and not header.startswith("attachment"):
            verdicts.fail(f"attachment {link}: {kind} shown inline ({header})")
        if kind.startswith("image/") and b"<script" in data:
            verdicts.fail(f"attachment {link}: a picture still carries a script")
    tried("accepted hostile files, downloaded by triage", len(accepted))


def _json_shapes() -> list[tuple[str, bytes]]:
    return [
        ("deep", b"[" * 100_000 + b"]" * 100_000),
        ("deep and short", b"[" * 5_000 + b"]" * 5_000),
        ("deep object", b'{"a":' * 50_000 + b"1" + b"}" * 50_000),
        ("nan", b'{"format": NaN, "standards": Infinity}'),
        ("giant number", b'{"format": ' + b"9" * 5_000 + b"}"),
        ("not an object", b'"just text"'),
        ("invalid utf-8", b'{"format": "\xff\xfe"}'),
        ("bom", b'\xef\xbb\xbf{"format": 1}'),
        ("nul", b'{"format": "\x00"}'),
        ("empty", b""),
        (
            "xml",
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
        ),
    ]


def test_hostile_catalogue_and_rule_set_uploads(staff: Staff, verdicts: Verdicts) -> None:
    """An administrator's JSON uploads (the judgment-standard catalogue, a reward rule set):
    hostile in shape, and valid documents whose texts (titles, ids) are hostile; shown escaped
    on the pages officers read."""
    import json
    from pathlib import Path

    import cases.standards
    import rewards.rules

    admin = staff.client("administrator")
    token = _csrf(staff, next(f for f in FORMS if f.who == "administrator"))
    catalogue = json.loads(
        (Path(cases.standards.__file__).parent / "data" / "standards.json").read_text("utf-8")
    )
    rule_set = json.loads(
        (Path(rewards.rules.__file__).parent / "data" / "national-2018.json").read_text("utf-8")
    )

    def upload_catalogue(data: bytes) -> Any:
        body = multipart([("csrf_token", token.encode())], [("file", b"catalogue.json", data)])
        return admin.post(
            "/standards/upload",
            data=body,
            content_type="multipart/form-data; boundary=qingling-hostile",
        )

    def upload_rules(data: bytes) -> Any:
        body = multipart([("csrf_token", token.encode()), ("document", data)])
        return admin.post(
            "/reward-rules/new",
            data=body,
            content_type="multipart/form-data; boundary=qingling-hostile",
        )

    count = 0
    for shape, data in _json_shapes():
        with staff.undone():
            verdicts.check(f"catalogue upload {shape}", upload_catalogue(data))
        with staff.undone():
            verdicts.check(f"rule set upload {shape}", upload_rules(data))
        count += 2
    texts = SAMPLE + tuple(s for s in STRINGS if "script" in s.tags)
    for item in texts:
        text = item.value if item.encodable else item.utf8.decode("utf-8", "replace")
        changed = json.loads(json.dumps(catalogue))
        first = changed["standards"][0]
        first["title"] = text
        first["code"] = "HOSTILE " + text[:40]
        with staff.undone():
            response = upload_catalogue(json.dumps(changed, ensure_ascii=False).encode())
            if verdicts.check(f"catalogue texts {item.id}", response) < 400:
                verdicts.check(f"standards page {item.id}", admin.get("/standards/"))
        rules = json.loads(json.dumps(rule_set))
        rules["title"] = {"zh": text, "en": text}
        for rule_id in ("hostile-" + item.id, text):
            rules["id"] = rule_id
            with staff.undone():
                response = upload_rules(json.dumps(rules, ensure_ascii=False).encode())
                if verdicts.check(f"rule set {rule_id[:30]!r}", response) < 400:
                    verdicts.check(f"rule sets page {item.id}", admin.get("/reward-rules/"))
                    location = response.headers.get("Location", "")
                    if location:
                        verdicts.check(f"rule set page {item.id}", admin.get(location))
        count += 4
    tried("staff JSON uploads (catalogue, rule sets)", count)
