"""Tables of intake/wechat."""

from __future__ import annotations
