"""Role and division checks, used by every service that reads or changes something.

Views check too, for a friendly page, but the service check is the one that counts.
"""

from __future__ import annotations

from core.accounts.models import Role, User
from core.errors import Forbidden


def require_role(actor: User, *roles: Role) -> None:
    """The actor is active and holds at least one of ``roles``."""
    if not actor.active or not actor.has_role(*roles):
        raise Forbidden()


def in_scope(actor: User, division_id: int | None) -> bool:
    """A city-scope user sees every division; a division user only their own."""
    return actor.division_id is None or actor.division_id == division_id


def require_scope(actor: User, division_id: int | None) -> None:
    if not in_scope(actor, division_id):
        raise Forbidden()
