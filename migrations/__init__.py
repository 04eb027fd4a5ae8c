"""Alembic migrations. :func:`load_models` imports every models module so that
``Base.metadata`` knows every table (for autogenerate, ``alembic check`` and the tests)."""

from __future__ import annotations

import importlib
from pathlib import Path

from sqlalchemy import MetaData

MIGRATIONS_DIR = Path(__file__).resolve().parent

MODEL_MODULES = (
    "core.accounts.models",
    "core.audit.models",
    "core.keys.models",
    "registry.models",
    "intake.models",
    "triage.models",
    "cases.standards.models",
    "cases.models",
    "rewards.rules.models",
    "rewards.models",
    "intake.wechat.models",
)


def load_models() -> MetaData:
    for name in MODEL_MODULES:
        importlib.import_module(name)
    from core.models import Base

    return Base.metadata
