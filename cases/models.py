"""Hazard cases and their closed loop (DESIGN.md "Workflows"; issue 6 part 3)::

    open ─ plan ─▶ rectifying ─ submit ─▶ awaiting_acceptance ─ accept ─▶ closed
                    ▲   ▲  │ plan (a later plan replaces the current one)     │
                    │   │  └──────┘            │ refuse (acceptance failed)   │ recheck_ok
                    │   └──────────────────────┘                              ▼
                    └─────────────────────── relapse ◀── closed          rechecked

The transition table is :mod:`cases.workflow`; each transition is one service in
:mod:`cases.services`. The CHECK constraints below tie each state to the columns it needs.

The case holds no word of the reporter's: the description is the officer's own text, entered
by the officer (passages may come from the tip only through the redaction step, see
:func:`cases.services.redact`). It is stored **in the clear**, on purpose: it is what case
officers, supervisors and the facility work from, none of whom may read tips, and it says what
the hazard is, not who saw it. The link to the tip (``tip_id``) is for triage and rewards; the
reporter's identity stays in the encrypted tip.

The same holds for everything under a case (plans, enforcement, progress notes, evidence
files, acceptance, re-check, interviews and circulars): it is **staff material**, written or
uploaded by officers, about the facility. It is stored in the clear (evidence files as bytes in
the database, images scrubbed of metadata) and never contains reporter content; an officer who
wants a reporter's attachment in a case must not copy it here (the tip stays the place for it).
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ColumnElement,
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    and_,
    or_,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.models import Base, Fen, str_enum
from intake.models import TipCategory


class CaseState(enum.StrEnum):
    """The hazard-case workflow (DESIGN.md "Workflows"). A relapse found at the re-check puts
    a closed case back to ``rectifying`` (and adds 1 to ``relapse_count``)."""

    OPEN = "open"
    RECTIFYING = "rectifying"
    AWAITING_ACCEPTANCE = "awaiting_acceptance"
    CLOSED = "closed"
    RECHECKED = "rechecked"


#: States in which the rectification deadline runs.
ACTIVE_STATES = (CaseState.OPEN, CaseState.RECTIFYING, CaseState.AWAITING_ACCEPTANCE)


class CaseSource(enum.StrEnum):
    TIP = "tip"  # a substantiated tip
    INSPECTION = "inspection"  # found by an officer's inspection
    SELF_REPORT = "self_report"  # the facility's own report (自查自报)


class EnforcementKind(enum.StrEnum):
    """Enforcement measures ordered while a hazard is rectified."""

    SUSPEND_BUILDING = "suspend_building"  # 暂停使用相关建筑物
    SUSPEND_EQUIPMENT = "suspend_equipment"  # 暂停使用相关设施设备
    SEAL = "seal"  # 查封
    STOP_PRODUCTION = "stop_production"  # 停产停业


class UpdateKind(enum.StrEnum):
    """Entries of a case's timeline that carry an officer's text (and maybe evidence)."""

    PROGRESS = "progress"  # a progress update during rectification
    SUBMISSION = "submission"  # submitted for acceptance
    REFUSAL = "refusal"  # acceptance not passed, back to rectification
    ACCEPTANCE = "acceptance"  # accepted and closed (验收销号)
    RECHECK = "recheck"  # re-check found the hazard cleared (回头看)
    RELAPSE = "relapse"  # re-check found the hazard back


def _states(*states: CaseState) -> str:
    return "(" + ", ".join(f"'{s.value}'" for s in states) + ")"


_ACTIVE = _states(*ACTIVE_STATES)
_DONE = _states(CaseState.CLOSED, CaseState.RECHECKED)
_WORKING = _states(CaseState.RECTIFYING, CaseState.AWAITING_ACCEPTANCE)


class HazardCase(Base):
    __tablename__ = "hazard_cases"
    __table_args__ = (
        CheckConstraint("facility_id IS NULL OR facility_id > 0", name="facility_id_positive"),
        CheckConstraint("length(description) >= 1", name="description_not_empty"),
        CheckConstraint("(source = 'tip') = (tip_id IS NOT NULL)", name="tip_source_has_tip"),
        CheckConstraint("relapse_count >= 0", name="relapse_count_not_negative"),
        # Rectifying (and waiting for acceptance) needs a plan, hence its author and deadline.
        CheckConstraint(
            f"state NOT IN {_WORKING} OR (deadline IS NOT NULL AND plan_by_id IS NOT NULL)",
            name="working_has_plan",
        ),
        CheckConstraint(
            f"(state IN {_states(CaseState.AWAITING_ACCEPTANCE)} OR state IN {_DONE}) "
            "= (submitted_by_id IS NOT NULL AND submitted_at IS NOT NULL)",
            name="submitted_iff_submitted_or_done",
        ),
        CheckConstraint(
            f"(state IN {_DONE}) = (closed_at IS NOT NULL AND recheck_due_on IS NOT NULL "
            "AND accepted_by_id IS NOT NULL)",
            name="done_iff_closed",
        ),
        CheckConstraint(
            f"state NOT IN {_ACTIVE} OR (closed_at IS NULL AND recheck_due_on IS NULL "
            "AND accepted_by_id IS NULL)",
            name="active_not_closed",
        ),
        CheckConstraint(
            f"(state = '{CaseState.RECHECKED.value}') = (rechecked_at IS NOT NULL)",
            name="rechecked_iff_rechecked_at",
        ),
        # Acceptance by someone else than the officer who ran the rectification: neither the
        # one who submitted it for acceptance nor the author of the current plan.
        CheckConstraint(
            "accepted_by_id IS NULL OR (accepted_by_id <> submitted_by_id "
            "AND accepted_by_id <> plan_by_id)",
            name="acceptance_by_another",
        ),
        CheckConstraint(
            "NOT public_example OR length(public_summary) >= 1",
            name="public_example_has_summary",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    # The tip it was opened from; NULL for a case an officer enters from an inspection or the
    # facility's own report. One case per tip (a tip's several hazards are several standard
    # items of one case).
    tip_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tips.id", ondelete="RESTRICT"), unique=True
    )
    source: Mapped[CaseSource] = mapped_column(str_enum(CaseSource, "case_source", 20))
    facility_id: Mapped[int | None] = mapped_column(
        ForeignKey("facilities.id", ondelete="RESTRICT"), index=True
    )
    division_id: Mapped[int] = mapped_column(
        ForeignKey("divisions.id", ondelete="RESTRICT"), index=True
    )
    category: Mapped[TipCategory] = mapped_column(str_enum(TipCategory, "case_category"))
    # Codes of the judgment-standard items the officer selected (codes of
    # ``standard_items.code`` in the catalogue, checked when set).
    standard_items: Mapped[list[str]] = mapped_column(JSON)
    # Place class for the GB 35181 composite rule (cases.standards.services.place_classes).
    place_class: Mapped[str | None] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(Text)
    state: Mapped[CaseState] = mapped_column(str_enum(CaseState, "case_state"), index=True)
    discovered_on: Mapped[dt.date] = mapped_column(Date)
    # The current rectification deadline (the current plan's; it may be set when the case is
    # opened, as the deadline ordered on discovery).
    deadline: Mapped[dt.date | None] = mapped_column(Date, index=True)
    created_at: Mapped[dt.datetime]
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))

    # Who ran the rectification: the current plan's author and who submitted it for acceptance.
    plan_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    submitted_at: Mapped[dt.datetime | None]
    # Acceptance and closure (验收销号).
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    closed_at: Mapped[dt.datetime | None]
    recheck_due_on: Mapped[dt.date | None] = mapped_column(Date, index=True)
    rechecked_at: Mapped[dt.datetime | None]
    relapse_count: Mapped[int] = mapped_column(Integer, default=0)
    # When ``qingling jobs run-due`` recorded that the case became overdue; cleared whenever
    # the date it is measured against changes (new plan, closure, relapse).
    overdue_noted_at: Mapped[dt.datetime | None]

    # A public example (典型案例), marked by an administrator with their own summary.
    public_example: Mapped[bool] = mapped_column(Boolean, default=False)
    public_summary: Mapped[str] = mapped_column(Text, default="")


def overdue_clause(today: dt.date) -> ColumnElement[bool]:
    """Overdue, derived: the rectification deadline passed while the case is still open,
    rectifying or awaiting acceptance, or the re-check date passed while it is closed."""
    return or_(
        and_(HazardCase.state.in_(ACTIVE_STATES), HazardCase.deadline < today),
        and_(HazardCase.state == CaseState.CLOSED, HazardCase.recheck_due_on < today),
    )


def is_overdue(case: HazardCase, today: dt.date) -> bool:
    """:func:`overdue_clause` for a loaded case."""
    if case.state in ACTIVE_STATES:
        return case.deadline is not None and case.deadline < today
    if case.state is CaseState.CLOSED:
        return case.recheck_due_on is not None and case.recheck_due_on < today
    return False


class RectificationPlan(Base):
    """A rectification plan with the five in place (五落实): responsibility, measures, funds,
    deadline and contingency plan. The newest plan of a case is the current one; older plans
    stay as history."""

    __tablename__ = "case_plans"
    __table_args__ = (
        CheckConstraint("length(responsibility) >= 1", name="responsibility_not_empty"),
        CheckConstraint("length(measures) >= 1", name="measures_not_empty"),
        CheckConstraint("length(contingency_plan) >= 1", name="contingency_not_empty"),
        CheckConstraint("funds_fen >= 0", name="funds_not_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("hazard_cases.id", ondelete="CASCADE"), index=True
    )
    responsibility: Mapped[str] = mapped_column(Text)  # who is responsible (责任落实)
    measures: Mapped[str] = mapped_column(Text)  # 措施落实
    funds_fen: Mapped[Fen]  # 资金落实
    deadline: Mapped[dt.date] = mapped_column(Date)  # 时限落实
    contingency_plan: Mapped[str] = mapped_column(Text)  # 预案落实
    created_at: Mapped[dt.datetime]
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))


class EnforcementMeasure(Base):
    """An enforcement measure ordered for the case, from its start to its end (NULL end: in
    force until lifted)."""

    __tablename__ = "case_enforcements"
    __table_args__ = (
        CheckConstraint("end_on IS NULL OR end_on >= start_on", name="end_after_start"),
        CheckConstraint("length(target) >= 1", name="target_not_empty"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("hazard_cases.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[EnforcementKind] = mapped_column(str_enum(EnforcementKind, "enforcement_kind"))
    target: Mapped[str] = mapped_column(String(200))  # the building, equipment or premises
    start_on: Mapped[dt.date] = mapped_column(Date)
    end_on: Mapped[dt.date | None] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime]
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))


class CaseUpdate(Base):
    """A timeline entry with the officer's text: progress, submission, acceptance or its
    refusal, re-check. Evidence files hang off it."""

    __tablename__ = "case_updates"
    __table_args__ = (CheckConstraint("length(note) >= 1", name="note_not_empty"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("hazard_cases.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[UpdateKind] = mapped_column(str_enum(UpdateKind, "case_update_kind", 20))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime]
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))


class CaseEvidence(Base):
    """An evidence file (photo, PDF) of an update, stored in the database. Staff material (see
    the module docstring): not encrypted, images scrubbed of metadata on upload."""

    __tablename__ = "case_evidence"
    __table_args__ = (
        CheckConstraint("size > 0", name="size_positive"),
        CheckConstraint("length(filename) >= 1", name="filename_not_empty"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("hazard_cases.id", ondelete="CASCADE"), index=True
    )
    update_id: Mapped[int] = mapped_column(
        ForeignKey("case_updates.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    # deferred: listing a case's evidence must not load every file.
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[dt.datetime]
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))


class CaseRelapse(Base):
    """A relapse found at the re-check (回头看): the case went back to rectification. Counted
    against the facility (``facility_id`` copied so the count needs no join)."""

    __tablename__ = "case_relapses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("hazard_cases.id", ondelete="CASCADE"), index=True
    )
    facility_id: Mapped[int | None] = mapped_column(
        ForeignKey("facilities.id", ondelete="RESTRICT"), index=True
    )
    update_id: Mapped[int] = mapped_column(ForeignKey("case_updates.id", ondelete="CASCADE"))
    closed_at: Mapped[dt.datetime]  # the closure the relapse undid
    new_deadline: Mapped[dt.date] = mapped_column(Date)
    created_at: Mapped[dt.datetime]
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))


class CaseInterview(Base):
    """An interview (约谈) held by the supervising bureau about an overdue case."""

    __tablename__ = "case_interviews"
    __table_args__ = (
        CheckConstraint("length(interviewee) >= 1", name="interviewee_not_empty"),
        CheckConstraint("length(content) >= 1", name="content_not_empty"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("hazard_cases.id", ondelete="CASCADE"), index=True
    )
    held_on: Mapped[dt.date] = mapped_column(Date)
    conducted_by: Mapped[str] = mapped_column(String(200))  # 约谈人
    interviewee: Mapped[str] = mapped_column(String(200))  # 被约谈人 (person, position, unit)
    attendees: Mapped[str] = mapped_column(Text, default="")
    content: Mapped[str] = mapped_column(Text)
    commitments: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime]
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))


class CaseCircular(Base):
    """A circular (通报) about an overdue case; ``number`` is the document number (文号)."""

    __tablename__ = "case_circulars"
    __table_args__ = (
        UniqueConstraint("number"),
        CheckConstraint("length(number) >= 1", name="number_not_empty"),
        CheckConstraint("length(text) >= 1", name="text_not_empty"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("hazard_cases.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[str] = mapped_column(String(100))
    issued_on: Mapped[dt.date] = mapped_column(Date)
    scope: Mapped[str] = mapped_column(String(300))  # to whom it is circulated
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime]
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
