"""What the finance pages read: rewards by state, one reward with its history and the steps
open to the user, totals by month and division, the Excel export, and the payment details.

Every read checks role and scope here (:mod:`rewards.services.common`). Nothing here opens a
tip's content: finance sees a report's routing values (division, category, dates, conclusion
outcome) and never what the reporter wrote. Opening payment details needs a finance role *and*
the user's grant of the finance key group (decrypt-on-read like triage: personal key → group
key → claim key → details), and every opening is audited (``reward.payment_details_opened``:
the group version, never the details). The export never holds payment details.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from core.accounts.models import Role, User
from core.audit import services as audit
from core.audit.models import AuditRecord
from core.audit.services import actor_of
from core.clock import Clock
from core.errors import Forbidden
from core.keys import records
from core.keys import services as keys
from core.keys.errors import NotAMember
from core.settings import Settings
from crypto import envelope
from crypto.errors import CryptoError
from intake.models import Tip, TipCategory, TipState
from registry.models import Division
from registry.tables import xlsx_text
from rewards import errors
from rewards.models import (
    PaymentMethod,
    Reward,
    RewardAction,
    RewardState,
    RewardTransition,
)
from rewards.rules.services import all_versions
from rewards.services.claims import CLAIM_KIND, PAYMENT_FIELD
from rewards.services.common import (
    FINANCE_ROLES,
    KIND,
    is_finance,
    load_reward,
    may_act,
    may_read,
    require_act,
    require_reader,
    scope_clause,
)
from rewards.services.workflow import actions_from
from triage.deadlines import last_day, local_date

PAGE_MAX = 200
OPENED = "reward.payment_details_opened"
EXPORTED = "reward.exported"
#: Most rows one export holds (a year of a city's rewards is far fewer).
EXPORT_MAX = 50_000


# ---------------------------------------------------------------- values out


@dataclass(frozen=True)
class RewardFilters:
    state: RewardState | None = None
    division_id: int | None = None


@dataclass(frozen=True)
class RewardPage:
    items: tuple[Reward, ...]
    total: int
    page: int
    pages: int


@dataclass(frozen=True)
class StateTotal:
    state: RewardState
    count: int
    amount_fen: int  # the calculated amounts (0 where none)


@dataclass(frozen=True)
class MonthTotal:
    month: str  # "YYYY-MM" of the payment date
    division_id: int
    count: int
    amount_fen: int


@dataclass(frozen=True)
class HistoryEntry:
    seq: int
    action: RewardAction
    from_state: RewardState | None
    to_state: RewardState
    actor_label: str
    at: dt.datetime


@dataclass(frozen=True)
class TipFacts:
    """What finance may know of the report: routing values and dates, never its content."""

    id: uuid.UUID
    state: TipState
    category: TipCategory
    division_id: int
    submitted_at: dt.datetime
    conclusion: TipState | None
    concluded_at: dt.datetime | None
    recheck_outcome: TipState | None
    reward_right: bool


@dataclass(frozen=True)
class RewardDetail:
    reward: Reward
    tip: TipFacts
    history: tuple[HistoryEntry, ...]
    people: dict[int, str]  # user id → user name, for the ids on the reward
    #: What ``actor`` may do now: "record_decision", "calculate", "send_back", "approve",
    #: "offer", "open_details", "record_payment".
    steps: frozenset[str]
    #: An offer is possible only after this day (the conclusion is not final before).
    offer_after: dt.date | None
    #: The rule set series finance may choose for a calculation.
    rule_set_choices: tuple[str, ...]


@dataclass(frozen=True)
class PaymentDetails:
    """Decrypted payment details. Never logged: ``repr`` shows only the method."""

    method: PaymentMethod
    account_name: str = field(default="", repr=False)
    bank: str = field(default="", repr=False)
    account_number: str = field(default="", repr=False)


# ---------------------------------------------------------------- listing


def _filtered(actor: User, filters: RewardFilters) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [scope_clause(actor)]
    if filters.state is not None:
        conds.append(Reward.state == filters.state)
    if filters.division_id is not None:
        conds.append(Reward.division_id == filters.division_id)
    return conds


def list_rewards(
    session: Session,
    actor: User,
    filters: RewardFilters,
    *,
    page: int = 1,
    per_page: int = 50,
) -> RewardPage:
    """Rewards in ``actor``'s scope, newest first."""
    require_reader(actor)
    per_page = max(1, min(per_page, PAGE_MAX))
    conds = _filtered(actor, filters)
    total = int(session.scalar(select(func.count()).select_from(Reward).where(*conds)) or 0)
    pages = max(1, -(-total // per_page))
    page = max(1, min(page, pages))
    items = session.scalars(
        select(Reward)
        .where(*conds)
        .order_by(Reward.created_at.desc(), Reward.id)
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return RewardPage(tuple(items), total, page, pages)


def state_totals(session: Session, actor: User, division_id: int | None = None) -> list[StateTotal]:
    """Count and amount per state, every state listed (in workflow order)."""
    require_reader(actor)
    conds = _filtered(actor, RewardFilters(division_id=division_id))
    rows = session.execute(
        select(Reward.state, func.count(), func.coalesce(func.sum(Reward.amount_fen), 0))
        .where(*conds)
        .group_by(Reward.state)
    ).all()
    found = {row[0]: (int(row[1]), int(row[2] or 0)) for row in rows}
    return [StateTotal(s, *found.get(s, (0, 0))) for s in RewardState]


def _month(session: Session) -> ColumnElement[str]:
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(Reward.paid_on, "YYYY-MM")
    return func.strftime("%Y-%m", Reward.paid_on)


def monthly_totals(session: Session, actor: User, year: int) -> list[MonthTotal]:
    """Payments of ``year`` (by payment date) per month and division, in ``actor``'s scope.
    Finance and supervisors."""
    if not (is_finance(actor) or (actor.active and actor.has_role(Role.SUPERVISOR))):
        raise Forbidden()
    month = _month(session).label("month")
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    rows = session.execute(
        select(month, Reward.division_id, func.count(), func.sum(Reward.paid_amount_fen))
        .where(
            scope_clause(actor),
            Reward.state == RewardState.PAID,
            Reward.paid_on >= start,
            Reward.paid_on <= end,
        )
        .group_by(month, Reward.division_id)
        .order_by(month, Reward.division_id)
    ).all()
    return [MonthTotal(str(r[0]), int(r[1]), int(r[2]), int(r[3] or 0)) for r in rows]


# ---------------------------------------------------------------- one reward


def _tip_facts(session: Session, tip_id: uuid.UUID) -> TipFacts:
    tip = session.get(Tip, tip_id)
    if tip is None:  # pragma: no cover - a foreign key
        raise errors.RewardNotFound()
    return TipFacts(
        id=tip.id,
        state=tip.state,
        category=tip.category,
        division_id=tip.division_id,
        submitted_at=tip.submitted_at,
        conclusion=tip.conclusion,
        concluded_at=tip.concluded_at,
        recheck_outcome=tip.recheck_outcome,
        reward_right=tip.reward_right,
    )


def _history(session: Session, reward_id: uuid.UUID) -> tuple[HistoryEntry, ...]:
    rows = session.scalars(
        select(RewardTransition)
        .where(RewardTransition.reward_id == reward_id)
        .order_by(RewardTransition.seq)
    )
    return tuple(
        HistoryEntry(r.seq, r.action, r.from_state, r.to_state, r.actor_label, r.at) for r in rows
    )


def _offer_after(session: Session, reward: Reward, now: dt.datetime) -> dt.date | None:
    concluded = session.get(Tip, reward.concluded_tip_id)
    if concluded is None:  # pragma: no cover - a foreign key
        return None
    if concluded.state is TipState.RECHECKING and concluded.recheck_due_at is not None:
        return last_day(concluded.recheck_due_at)
    due = concluded.objection_due_at
    if concluded.objected_at is None and due is not None and now < due:
        return last_day(due)
    return None


def _steps(actor: User, reward: Reward, offer_after: dt.date | None) -> frozenset[str]:
    allowed = {a.value for a in actions_from(reward.state)}
    officer = may_act(actor, reward.division_id, Role.FINANCE_OFFICER)
    approver = may_act(actor, reward.division_id, Role.FINANCE_APPROVER)
    steps: set[str] = set()
    if officer and RewardAction.RECORD_PENALTY_DECISION.value in allowed:
        steps.add("record_decision")
    if officer and RewardAction.CALCULATE.value in allowed and reward.kind is not None:
        steps.add("calculate")
    if approver and RewardAction.SEND_BACK.value in allowed:
        steps.add("send_back")
    if approver and RewardAction.APPROVE.value in allowed and reward.calculated_by_id != actor.id:
        steps.add("approve")
    if (officer or approver) and RewardAction.OFFER.value in allowed and offer_after is None:
        steps.add("offer")
    if (officer or approver) and reward.state in {RewardState.CLAIMED, RewardState.PAID}:
        steps.add("open_details")
    if officer and RewardAction.RECORD_PAYMENT.value in allowed:
        steps.add("record_payment")
    return frozenset(steps)


def reward_detail(
    session: Session, clock: Clock, actor: User, reward_id: uuid.UUID
) -> RewardDetail:
    """One reward with its report's routing values, its history and the steps open to
    ``actor`` (finance, triage officers in scope, supervisors; payment details excluded)."""
    reward = load_reward(session, reward_id)
    if not may_read(actor, reward.division_id):
        raise Forbidden()
    ids = {
        reward.decision_recorded_by_id,
        reward.calculated_by_id,
        reward.approved_by_id,
        reward.offered_by_id,
        reward.paid_by_id,
    } - {None}
    people = {
        row.id: row.username
        for row in session.execute(select(User.id, User.username).where(User.id.in_(ids)))
    }
    offer_after = (
        _offer_after(session, reward, clock.now()) if reward.state is RewardState.APPROVED else None
    )
    series = tuple(sorted({v.rule_set.series for v in all_versions(session) if not v.withdrawn}))
    return RewardDetail(
        reward=reward,
        tip=_tip_facts(session, reward.tip_id),
        history=_history(session, reward.id),
        people=people,
        steps=_steps(actor, reward, offer_after),
        offer_after=offer_after,
        rule_set_choices=series,
    )


def reward_of_tip_for(session: Session, actor: User, tip_id: uuid.UUID) -> Reward | None:
    """The reward of a report, if ``actor`` may read it (for a link from the tip page)."""
    reward = session.scalar(select(Reward).where(Reward.tip_id == tip_id))
    if reward is None or not may_read(actor, reward.division_id):
        return None
    return reward


# ---------------------------------------------------------------- payment details


def _claim_hashes(session: Session, reward_id: uuid.UUID) -> dict[str, Any] | None:
    details = session.scalar(
        select(AuditRecord.details)
        .where(
            AuditRecord.object_type == KIND,
            AuditRecord.object_id == str(reward_id),
            AuditRecord.action == f"reward.{RewardAction.CLAIM.value}",
        )
        .order_by(AuditRecord.seq.desc())
        .limit(1)
    )
    if details is None:
        return None
    value: dict[str, Any] = json.loads(details)
    return value


def open_payment_details(
    session: Session,
    clock: Clock,
    settings: Settings,
    actor: User,
    reward_id: uuid.UUID,
    *,
    personal_key: bytes,
) -> PaymentDetails:
    """The payment details of a claimed (or paid) reward, decrypted for a member of the
    finance key group holding a finance role in scope; audited.

    The stored envelopes are first checked against the hashes the claim wrote into the audit
    chain (:class:`PaymentDetailsDamaged` if they differ: details swapped in the database).
    :class:`NotInFinanceGroup` without a grant of the version the claim was sealed to.
    """
    reward = load_reward(session, reward_id)
    require_act(actor, reward, *FINANCE_ROLES)
    if reward.state not in {RewardState.CLAIMED, RewardState.PAID}:
        raise errors.InvalidRewardTransition()
    sealed, payment = reward.claim_key_sealed, reward.payment_enc
    group_id, version = reward.claim_group_id, reward.claim_group_version
    if sealed is None or payment is None or group_id is None or version is None:
        raise errors.PaymentDetailsDamaged()  # pragma: no cover - the CHECK constraint
    recorded = _claim_hashes(session, reward.id)
    if (
        recorded is None
        or recorded.get("payment_sha256") != records.envelope_sha256(payment)
        or recorded.get("claim_key_sha256") != records.envelope_sha256(sealed)
        or recorded.get("group") != group_id
        or recorded.get("group_version") != version
    ):
        raise errors.PaymentDetailsDamaged()
    try:
        group_key = keys.unlock_group(session, actor, personal_key, group_id, version)
    except NotAMember:
        raise errors.NotInFinanceGroup() from None
    try:
        claim_key = envelope.open_data_key(
            group_key, sealed, tip_id=reward.tip_id, group_id=group_id, group_version=version
        )
        text = envelope.decrypt_text(
            claim_key,
            payment,
            tip_id=reward.tip_id,
            kind=CLAIM_KIND,
            object_id=reward.id,
            field_name=PAYMENT_FIELD,
        )
        data = json.loads(text)
        method = PaymentMethod(data["method"])
    except (CryptoError, ValueError, KeyError, TypeError):
        raise errors.PaymentDetailsDamaged() from None
    audit.record(
        session,
        clock,
        actor_of(actor),
        OPENED,
        KIND,
        str(reward.id),
        {"group": group_id, "group_version": version, "method": method.value},
    )
    return PaymentDetails(
        method=method,
        account_name=str(data.get("account_name", "")),
        bank=str(data.get("bank", "")),
        account_number=str(data.get("account_number", "")),
    )


# ---------------------------------------------------------------- the Excel export


#: Column headings of the export, Chinese first (the finance system's language), then English.
EXPORT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("奖励编号", "Reward id"),
    ("举报编号", "Report id"),
    ("镇（街道）", "Division"),
    ("状态", "State"),
    ("类别", "Kind"),
    ("规则集", "Rule set"),
    ("规则", "Rule"),
    ("奖励金额（元）", "Amount (yuan)"),
    ("处罚决定书文号", "Decision number"),
    ("处罚决定日期", "Decision date"),
    ("审批日期", "Approved on"),
    ("告知日期", "Offered on"),
    ("领取截止日", "Claim deadline"),
    ("申领日期", "Claimed on"),
    ("领取方式", "Payment method"),
    ("支付日期", "Paid on"),
    ("凭证号", "Voucher number"),
    ("支付金额（元）", "Paid (yuan)"),
)

_STATE_ZH = {
    RewardState.NOT_ELIGIBLE: "不予奖励",
    RewardState.AWAITING_PENALTY_DECISION: "待处罚决定",
    RewardState.CALCULATED: "已核算",
    RewardState.APPROVED: "已审批",
    RewardState.OFFERED: "已告知待领取",
    RewardState.CLAIMED: "已申领",
    RewardState.PAID: "已支付",
    RewardState.EXPIRED: "逾期未领",
    RewardState.DECLINED: "放弃领取",
}
_METHOD_ZH = {PaymentMethod.BANK_TRANSFER: "银行转账", PaymentMethod.IN_PERSON: "现场领取"}
_KIND_ZH = {"hazard": "事故隐患/非法违法行为", "concealed_accident": "瞒报谎报事故"}


def _date(value: dt.datetime | None) -> dt.date | None:
    return None if value is None else local_date(value)


def _yuan(fen: int | None) -> float | None:
    # A spreadsheet cell holds a number; two decimals of yuan are exact in a double.
    return None if fen is None else round(fen / 100, 2)


def _append_row(sheet: Any, values: list[Any]) -> None:
    """Append ``values``; every text is a text cell (openpyxl takes "=…" for a formula: a
    decision or voucher number typed as ``=HYPERLINK(…)`` would run in Excel) holding only
    what XML can carry (``registry.tables.xlsx_text``). Found by tests/hostile."""
    sheet.append([xlsx_text(v) if isinstance(v, str) else v for v in values])
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"


def export_workbook(
    session: Session, clock: Clock, actor: User, filters: RewardFilters
) -> tuple[bytes, int]:
    """The rewards of ``filters`` in ``actor``'s scope as an Excel workbook (one sheet, one row
    per reward, amounts in yuan, dates local), and the row count; audited. Finance only; no
    payment details and nothing of the reports' content."""
    if not is_finance(actor):
        raise Forbidden()
    conds = _filtered(actor, filters)
    rows = session.scalars(
        select(Reward).where(*conds).order_by(Reward.created_at, Reward.id).limit(EXPORT_MAX)
    ).all()
    names = {d.id: d.name for d in session.scalars(select(Division))}
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # noqa: S101 - a new workbook has one sheet
    sheet.title = "奖励 Rewards"
    sheet.append([f"{zh} {en}" for zh, en in EXPORT_COLUMNS])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for r in rows:
        _append_row(
            sheet,
            [
                str(r.id),
                str(r.tip_id),
                names.get(r.division_id, str(r.division_id)),
                _STATE_ZH[r.state],
                None if r.kind is None else _KIND_ZH[r.kind.value],
                r.rule_set,
                r.rule,
                _yuan(r.amount_fen),
                r.decision_number,
                r.decision_date,
                _date(r.approved_at),
                _date(r.offered_at),
                None if r.claim_deadline is None else last_day(r.claim_deadline),
                _date(r.claimed_at),
                None if r.payment_method is None else _METHOD_ZH[r.payment_method],
                r.paid_on,
                r.voucher_number,
                _yuan(r.paid_amount_fen),
            ],
        )
    for column in ("H", "R"):
        for cell in sheet[column][1:]:
            cell.number_format = "#,##0.00"
    for column in ("J", "K", "L", "M", "N", "P"):
        for cell in sheet[column][1:]:
            cell.number_format = "yyyy-mm-dd"
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    audit.record(
        session,
        clock,
        actor_of(actor),
        EXPORTED,
        KIND,
        None,
        {
            "rows": len(rows),
            "state": None if filters.state is None else filters.state.value,
            "division": filters.division_id,
        },
    )
    return out.getvalue(), len(rows)
