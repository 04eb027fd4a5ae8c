"""Tables of cases/standards."""

from __future__ import annotations
