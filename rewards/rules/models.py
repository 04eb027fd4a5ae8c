"""Tables of rewards/rules."""

from __future__ import annotations
