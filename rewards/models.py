"""Tables of the reward lifecycle."""

from __future__ import annotations
