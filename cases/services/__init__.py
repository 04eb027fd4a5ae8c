"""Hazard-case services, split by noun:

* :mod:`.opening` — opening a case (from a tip, or by an officer), redaction of tip passages;
* :mod:`.access` — who may read and change cases (DESIGN.md's role table);
* :mod:`.rectification` — plan, progress, enforcement, submission for acceptance;
* :mod:`.closure` — acceptance and closure, re-check, relapse, public examples;
* :mod:`.escalation` — interviews and circulars for overdue cases;
* :mod:`.evidence` — evidence files;
* :mod:`.reading` — the list, the case page, relapse counts.

The transition table is :mod:`cases.workflow`.
"""

from __future__ import annotations

from cases.services.closure import (
    accept,
    recheck_ok,
    refuse_acceptance,
    relapse,
    set_public_example,
)
from cases.services.escalation import (
    CircularData,
    InterviewData,
    circular_for,
    interview_for,
    record_circular,
    record_interview,
)
from cases.services.evidence import EvidenceDownload, Upload, read_evidence
from cases.services.opening import (
    REDACTION_MARK,
    NewCase,
    RedactedText,
    open_case,
    open_case_from_tip,
    redact,
)
from cases.services.reading import (
    CaseFilters,
    CasePage,
    CaseRow,
    CaseView,
    case_view,
    facility_relapse_count,
    list_cases,
    public_candidates,
)
from cases.services.rectification import (
    EnforcementData,
    PlanData,
    add_enforcement,
    add_progress,
    end_enforcement,
    submit_for_acceptance,
    submit_plan,
)

__all__ = [
    "REDACTION_MARK",
    "CaseFilters",
    "CasePage",
    "CaseRow",
    "CaseView",
    "CircularData",
    "EnforcementData",
    "EvidenceDownload",
    "InterviewData",
    "NewCase",
    "PlanData",
    "RedactedText",
    "Upload",
    "accept",
    "add_enforcement",
    "add_progress",
    "case_view",
    "circular_for",
    "end_enforcement",
    "facility_relapse_count",
    "interview_for",
    "list_cases",
    "open_case",
    "open_case_from_tip",
    "public_candidates",
    "read_evidence",
    "recheck_ok",
    "record_circular",
    "record_interview",
    "redact",
    "refuse_acceptance",
    "relapse",
    "set_public_example",
    "submit_for_acceptance",
    "submit_plan",
]
