"""Verification of tips: the triage workflow, duplicates and messages to the reporter.

Rooms: :mod:`triage.workflow` (the transition table, as data), :mod:`triage.deadlines` (every
deadline is the end of a local day), :mod:`triage.services` (one module per noun),
:mod:`triage.jobs` (``qingling jobs run-due``), :mod:`triage.models` (history, notes; the
workflow's columns are on ``intake.models.Tip``), :mod:`triage.errors`.

Decisions worth knowing:

* **Where the state lives.** On the ``tips`` row (state, deadlines, who keeps the reward
  right, the encrypted texts the reporter reads), so the queue reads one table; CHECK
  constraints tie each state to its columns. The history of transitions is
  ``tip_transitions`` (actor, time, reason code).
* **Times.** Officers' acts are timed exactly (staff-only metadata). The reporter's acts (a
  reply, an objection) are stored and audited to the hour, like the submission; the reporter
  sees dates only. Deadlines are ends of local days, so the date shown is the last day.
* **Encryption.** Every text about a tip — the refusal text or transfer note, the extension
  reason, the conclusions, the objection, messages and internal notes — is a FIELD envelope
  under the tip's data key; officers open it with their group grant, the reporter with the
  ``ReporterAccess``. Nothing of it enters a log or an audit record.
* **Access.** Role and scope are checked before any key is touched; holding a group key
  without the triage role opens nothing through the services.
"""
