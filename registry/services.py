"""Registry services: divisions."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit.services import Actor, record
from core.clock import Clock
from registry.models import Division, DivisionKind


def default_divisions() -> list[dict[str, Any]]:
    """The divisions shipped with the project (``registry/data/divisions.json``)."""
    text = resources.files("registry").joinpath("data/divisions.json").read_text("utf-8")
    data: list[dict[str, Any]] = json.loads(text)["divisions"]
    return data


def load_default_divisions(session: Session, clock: Clock, actor: Actor) -> int:
    """Add the shipped divisions that are missing (matched by name); returns how many were added.

    Divisions an administrator has edited or added are left as they are.
    """
    existing = set(session.scalars(select(Division.name)))
    added = 0
    for item in default_divisions():
        if item["name"] in existing:
            continue
        division = Division(
            name=item["name"],
            name_en=item.get("name_en", ""),
            kind=DivisionKind(item["kind"]),
            code=item.get("code"),
            management_area=item.get("management_area", ""),
            sort_order=item.get("sort_order", 0),
            active=True,
        )
        session.add(division)
        # Flushed for the id that the audit record names.
        session.flush()
        record(session, clock, actor, "division.created", "division", division.id,
               {"name": division.name, "source": "default data"})
        added += 1
    return added


def list_divisions(session: Session, *, include_inactive: bool = False) -> list[Division]:
    query = select(Division).order_by(Division.sort_order, Division.id)
    if not include_inactive:
        query = query.where(Division.active.is_(True))
    return list(session.scalars(query))
