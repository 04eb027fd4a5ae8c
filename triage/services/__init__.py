"""Triage services, one module per noun (every public name is re-exported here, so
``from triage import services as triage`` and ``triage.accept(...)`` work):

* :mod:`~triage.services.workflow` — one function per officer transition;
* :mod:`~triage.services.duplicates` — suggestions, the duplicate link, the reward right;
* :mod:`~triage.services.queue` — the queue, its filters, counts and keyset pages;
* :mod:`~triage.services.reading` — metadata and history, decrypt-on-read, attachments;
* :mod:`~triage.services.messages` — questions to the reporter, internal notes;
* :mod:`~triage.services.reporter` — the reporter's status, reply and objection;
* :mod:`~triage.services.common` — access rules, keys, texts, recording a transition.

Officer services take ``(session, clock, settings, actor: User, tip_id, *, personal_key=…,
…)`` (the personal key where a text is encrypted or decrypted); reporter services take a
``ReporterAccess``. None commits; each raises typed errors (``triage.errors``,
``core.errors.Forbidden``).
"""

from __future__ import annotations

from triage.services.duplicates import duplicate_suggestions, mark_duplicate
from triage.services.messages import Note, ThreadMessage, add_note, ask_reporter
from triage.services.queue import (
    PAGE_MAX,
    QueueFilters,
    QueueItem,
    QueuePage,
    QueueSort,
    queue,
    queue_counts,
)
from triage.services.reading import (
    HistoryEntry,
    TipOverview,
    TriageTip,
    open_tip,
    read_attachment,
    tip_overview,
)
from triage.services.reporter import (
    ReporterMessage,
    ReporterState,
    ReporterStatus,
    reporter_object,
    reporter_reply,
    reporter_status,
)
from triage.services.workflow import (
    accept,
    close,
    conclude,
    conclude_recheck,
    extend_verification,
    not_accept,
    start_verification,
    transfer,
)

__all__ = [
    "PAGE_MAX",
    "HistoryEntry",
    "Note",
    "QueueFilters",
    "QueueItem",
    "QueuePage",
    "QueueSort",
    "ReporterMessage",
    "ReporterState",
    "ReporterStatus",
    "ThreadMessage",
    "TipOverview",
    "TriageTip",
    "accept",
    "add_note",
    "ask_reporter",
    "close",
    "conclude",
    "conclude_recheck",
    "duplicate_suggestions",
    "extend_verification",
    "mark_duplicate",
    "not_accept",
    "open_tip",
    "queue",
    "queue_counts",
    "read_attachment",
    "reporter_object",
    "reporter_reply",
    "reporter_status",
    "start_verification",
    "tip_overview",
    "transfer",
]
