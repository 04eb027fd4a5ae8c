"""What a reporter holds once the token has been checked: the tip and its data key.

The public site keeps it server-side for a reporter session (found by a hash of a random cookie
value, the data key encrypted under a key derived from that value), so that a status page, a
reply or an objection does not derive the token again. Services that act for the reporter take
this value; they never see the token.

Holding the data key is what lets a service prove the token to PostgreSQL: before writing for
the reporter it calls :func:`present_reporter_proof`, and the triggers of migration 0008 refuse
the public site's role any reporter step on a tip without the matching proof
(``docs/deployment.md`` "Database roles").
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.orm import Session

from crypto import tokens

#: The transaction-local setting the triggers read (``current_setting(..., true)``).
PROOF_SETTING = "qingling.reporter_proof"

_PRESENT = text("SELECT set_config('qingling.reporter_proof', :proof, true)")


@dataclass(frozen=True)
class ReporterAccess:
    tip_id: uuid.UUID
    data_key: bytes = field(repr=False)


def reporter_proof_sha256(tip_id: uuid.UUID, data_key: bytes) -> bytes:
    """SHA-256 of the tip's reporter proof (``crypto.tokens.reporter_proof``): what intake
    stores in ``tips.reporter_proof_sha256``."""
    return hashlib.sha256(tokens.reporter_proof(data_key, tip_id)).digest()


def present_reporter_proof(session: Session, access: ReporterAccess) -> None:
    """Show PostgreSQL the proof of ``access``'s tip for the rest of this transaction.

    ``set_config(..., is_local => true)``: the value ends with the transaction (commit or
    rollback), so it never outlives the request on a pooled connection. Call it in the
    transaction that writes, before the first write for the reporter; a write for another tip
    in the same transaction is then refused for the public site's role. Nothing on SQLite, which
    has neither roles nor triggers. The proof goes as a bound parameter (the engines hide
    parameters in errors) and is never logged.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    proof = tokens.reporter_proof(access.data_key, access.tip_id)
    session.execute(_PRESENT, {"proof": proof.hex()})
