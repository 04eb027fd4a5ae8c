"""Who may read and change the facility registry (DESIGN.md's role table, checked here).

==================  ==================
role                registry
==================  ==================
triage officer      read (every division)
case officer        read and write, own scope
finance officer     read
finance approver    read
supervisor          read
administrator       read and write (own scope: a city-scope administrator writes everywhere)
auditor             —
==================  ==================

"Scope" is the user's division, or every division for a city-scope user. A user holding
several roles gets the widest reading they give: a case officer who is also a triage officer
reads every division but writes only in their own.
"""

from __future__ import annotations

from core.accounts.access import in_scope
from core.accounts.models import Role, User
from registry.errors import RegistryForbidden

#: Roles that read every facility.
READ_ALL_ROLES = (
    Role.TRIAGE_OFFICER,
    Role.FINANCE_OFFICER,
    Role.FINANCE_APPROVER,
    Role.SUPERVISOR,
    Role.ADMINISTRATOR,
)
#: Roles that add and change facilities (each within the user's scope).
WRITE_ROLES = (Role.CASE_OFFICER, Role.ADMINISTRATOR)
#: Every role that reads the registry at all.
READ_ROLES = (*READ_ALL_ROLES, Role.CASE_OFFICER)


class _AllDivisions:
    """The read scope of a user who reads every division."""

    def __repr__(self) -> str:
        return "ALL_DIVISIONS"


ALL_DIVISIONS = _AllDivisions()


def can_read_registry(actor: User) -> bool:
    return actor.active and actor.has_role(*READ_ROLES)


def read_scope(actor: User) -> int | _AllDivisions | None:
    """Which facilities ``actor`` reads: :data:`ALL_DIVISIONS`, one division id, or None for
    nothing at all."""
    if not can_read_registry(actor):
        return None
    if actor.has_role(*READ_ALL_ROLES) or actor.division_id is None:
        return ALL_DIVISIONS
    return actor.division_id


def can_read_division(actor: User, division_id: int) -> bool:
    scope = read_scope(actor)
    return scope is ALL_DIVISIONS or (scope is not None and scope == division_id)


def can_write_registry(actor: User) -> bool:
    """Whether ``actor`` may add or change facilities at all (in some division)."""
    return actor.active and actor.has_role(*WRITE_ROLES)


def can_write_division(actor: User, division_id: int) -> bool:
    return can_write_registry(actor) and in_scope(actor, division_id)


def require_read(actor: User, division_id: int) -> None:
    if not can_read_division(actor, division_id):
        raise RegistryForbidden()


def require_write(actor: User, division_id: int | None = None) -> None:
    """The actor writes to the registry, and (given ``division_id``) in that division."""
    if not can_write_registry(actor):
        raise RegistryForbidden()
    if division_id is not None and not in_scope(actor, division_id):
        raise RegistryForbidden()
