"""The reporter proof (``crypto.tokens.reporter_proof``): what intake stores for a new tip and
what a reporter step presents. The database's side of it, the triggers that check the proof for
the public site's role, is tested on PostgreSQL in ``tests/core/test_public_role.py``."""

from __future__ import annotations

import hashlib
import hmac
import uuid

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from crypto import envelope, tokens
from crypto.errors import CryptoError
from intake import services
from intake.access import ReporterAccess, present_reporter_proof, reporter_proof_sha256
from intake.models import Channel, Tip
from tests.conftest import ON_POSTGRES
from tests.intake.conftest import Intake


def hkdf_sha256(ikm: bytes, info: bytes) -> bytes:
    """RFC 5869 with an empty salt and one block of output, written out with ``hmac``."""
    prk = hmac.new(bytes(32), ikm, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()


def test_the_proof_is_hkdf_of_the_data_key_bound_to_the_tip() -> None:
    data_key = bytes(range(32))
    tip_id = uuid.UUID("5b0e6c1e-3f4a-4d2b-9c8e-7a6b5c4d3e2f")
    proof = tokens.reporter_proof(data_key, tip_id)
    assert proof == hkdf_sha256(data_key, b"qingling reporter proof v1" + tip_id.bytes)
    assert len(proof) == 32
    assert proof != data_key
    # Another tip with the same key, or another key for the same tip: another proof.
    assert tokens.reporter_proof(data_key, uuid.uuid4()) != proof
    assert tokens.reporter_proof(bytes(reversed(range(32))), tip_id) != proof
    assert reporter_proof_sha256(tip_id, data_key) == hashlib.sha256(proof).digest()


@pytest.mark.parametrize(
    ("data_key", "tip_id"),
    [(bytes(31), uuid.uuid4()), ("k" * 32, uuid.uuid4()), (bytes(32), str(uuid.uuid4()))],
)
def test_the_proof_refuses_what_is_not_a_data_key_and_a_tip_id(
    data_key: object, tip_id: object
) -> None:
    with pytest.raises(CryptoError):
        tokens.reporter_proof(data_key, tip_id)  # type: ignore[arg-type]


def test_intake_stores_the_hash_of_each_tips_own_proof(ready: Intake) -> None:
    dbs = ready.dbs
    receipts = [ready.submit(), ready.submit(channel=Channel.API), ready.submit()]
    proofs = set()
    hashes = set()
    for receipt in receipts:
        access = services.unlock_with_token(dbs, ready.settings, receipt.token.display)
        assert access.tip_id == receipt.tip_id
        stored = dbs.scalar(select(Tip.reporter_proof_sha256).where(Tip.id == receipt.tip_id))
        proof = tokens.reporter_proof(access.data_key, receipt.tip_id)
        assert stored == hashlib.sha256(proof).digest()
        # The hash is not the proof, and neither is anything the tip row holds.
        assert stored != proof
        proofs.add(proof)
        hashes.add(stored)
    assert len(proofs) == len(hashes) == len(receipts)


def test_replacing_the_token_keeps_the_proof(ready: Intake) -> None:
    """The proof follows the data key, which a new token wraps again unchanged."""
    dbs = ready.dbs
    receipt = ready.submit()
    before = services.unlock_with_token(dbs, ready.settings, receipt.token.display)
    new_token = services.replace_token(dbs, ready.clock, ready.settings, receipt.token.display)
    after = services.unlock_with_token(dbs, ready.settings, new_token.display)
    assert after.data_key == before.data_key
    stored = dbs.scalar(select(Tip.reporter_proof_sha256).where(Tip.id == receipt.tip_id))
    assert stored == reporter_proof_sha256(receipt.tip_id, after.data_key)


def test_presenting_the_proof_sets_it_for_the_transaction_on_postgresql_only(
    dbs: Session,
) -> None:
    """On PostgreSQL one ``set_config`` (transaction-local) with the proof in hex; on SQLite,
    which has no roles or triggers, no statement at all."""
    statements: list[str] = []
    bind = dbs.connection()

    def seen(_conn: Connection, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    access = ReporterAccess(uuid.uuid4(), envelope.new_data_key())
    event.listen(bind, "before_cursor_execute", seen)
    try:
        present_reporter_proof(dbs, access)
    finally:
        event.remove(bind, "before_cursor_execute", seen)
    if not ON_POSTGRES:
        assert bind.dialect.name == "sqlite"
        assert statements == []
        return
    assert len(statements) == 1
    assert "set_config" in statements[0]
    assert tokens.reporter_proof(access.data_key, access.tip_id).hex() not in statements[0]
    shown = dbs.scalar(text("SELECT current_setting('qingling.reporter_proof', true)"))
    assert shown == tokens.reporter_proof(access.data_key, access.tip_id).hex()
