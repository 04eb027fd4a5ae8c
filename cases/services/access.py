"""Who may read and change hazard cases (DESIGN.md's role table), checked here in the service
layer; views check again only for a friendly page.

==================  ===========================================================
role                cases
==================  ===========================================================
case officer        read and write in scope (own division, all if city scope)
triage officer      read in scope
finance officer     read all
finance approver    read all
supervisor          read all, escalate (interview, circular)
administrator       mark public examples only (no case content otherwise)
auditor             —
==================  ===========================================================
"""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, false, select, true
from sqlalchemy.orm import Session

from cases import errors
from cases.models import HazardCase
from core.accounts.access import in_scope
from core.accounts.models import Role, User

#: Roles that read every division's cases.
READ_ALL_ROLES = (Role.SUPERVISOR, Role.FINANCE_OFFICER, Role.FINANCE_APPROVER)
#: Roles that read cases in their scope.
READ_SCOPE_ROLES = (Role.CASE_OFFICER, Role.TRIAGE_OFFICER)


def can_read_cases(actor: User) -> bool:
    """Whether the actor may read any case at all (the list page, the dashboard)."""
    return actor.active and actor.has_role(*READ_ALL_ROLES, *READ_SCOPE_ROLES)


def case_scope_clause(actor: User) -> ColumnElement[bool]:
    """A WHERE clause for ``hazard_cases`` keeping the cases the actor may read: all of them
    for supervisors and finance, the actor's division for case and triage officers of a
    division (all for city scope), none for anyone else."""
    if not actor.active:
        return false()
    if actor.has_role(*READ_ALL_ROLES):
        return true()
    if actor.has_role(*READ_SCOPE_ROLES):
        if actor.division_id is None:
            return true()
        return HazardCase.division_id == actor.division_id
    return false()


def may_read(actor: User, case: HazardCase) -> bool:
    if not actor.active:
        return False
    if actor.has_role(*READ_ALL_ROLES):
        return True
    return actor.has_role(*READ_SCOPE_ROLES) and in_scope(actor, case.division_id)


def may_write(actor: User, division_id: int) -> bool:
    """Open and run cases: an active case officer whose scope covers the division."""
    return actor.active and actor.has_role(Role.CASE_OFFICER) and in_scope(actor, division_id)


def may_escalate(actor: User) -> bool:
    return actor.active and actor.has_role(Role.SUPERVISOR)


def may_mark_public(actor: User) -> bool:
    return actor.active and actor.has_role(Role.ADMINISTRATOR)


def readable_case(
    session: Session, actor: User, case_id: uuid.UUID, *, lock: bool = False
) -> HazardCase:
    """The case, if the actor may read it (:class:`CaseForbidden` otherwise, as for tips
    outside an officer's scope). ``lock`` takes the row lock (PostgreSQL) every change holds,
    so two officers acting at once are serialised."""
    query = select(HazardCase).where(HazardCase.id == case_id)
    if lock:
        query = query.with_for_update()
    case = session.scalar(query)
    if case is None:
        raise errors.CaseNotFound()
    if lock:
        # A row loaded earlier in this session keeps its old values without this.
        session.refresh(case, with_for_update=True)
    if not may_read(actor, case):
        raise errors.CaseForbidden()
    return case


def writable_case(session: Session, actor: User, case_id: uuid.UUID) -> HazardCase:
    """The case, locked, if the actor may change it (a case officer in scope)."""
    case = readable_case(session, actor, case_id, lock=True)
    if not may_write(actor, case.division_id):
        raise errors.CaseForbidden()
    return case
