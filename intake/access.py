"""What a reporter holds once the token has been checked: the tip and its data key.

The public site keeps it server-side for a reporter session (found by a hash of a random cookie
value, the data key encrypted under a key derived from that value), so that a status page, a
reply or an objection does not derive the token again. Services that act for the reporter take
this value; they never see the token.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ReporterAccess:
    tip_id: uuid.UUID
    data_key: bytes = field(repr=False)
