"""The access matrix: every staff role × every triage service × a tip of the user's own
division or of another, enforced in the services (called directly). DESIGN.md's role table:
triage officers read content and act within their scope (a city officer everywhere);
supervisors see the queue and metadata of every division, no content and no actions; every
other role sees nothing."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import delete, select

from cases import services as cases
from core.accounts.models import UserRole
from core.errors import Forbidden
from intake.models import Attachment, NotAcceptedReason, TipState
from tests.triage.conftest import CONCLUSION, Staff, World
from triage import errors
from triage import services as triage

ROLES = [
    "triage_own",
    "triage_city",
    "supervisor",
    "case_officer",
    "finance_officer",
    "finance_approver",
    "administrator",
    "auditor",
]

#: service name → (state the tip is brought to first, call(world, staff, tip id))
Call = Callable[[World, Staff, uuid.UUID], Any]


#: tip id → the accepted original prepared for it (before the audit count is taken).
ORIGINALS: dict[uuid.UUID, uuid.UUID] = {}


def _prepare_original(world: World, tip_id: uuid.UUID) -> None:
    original = world.submit(world.tip(tip_id).division_id)
    triage.accept(*world.args(), original)
    ORIGINALS[tip_id] = original


def _dup(world: World, who: Staff, tip_id: uuid.UUID) -> None:
    triage.mark_duplicate(*world.args(who), tip_id, original_id=ORIGINALS.pop(tip_id))


def _attachment_id(world: World, tip_id: uuid.UUID) -> uuid.UUID:
    found = world.dbs.scalar(select(Attachment.id).where(Attachment.tip_id == tip_id))
    assert found is not None
    return found


SERVICES: dict[str, tuple[TipState, Call]] = {
    "open_tip": (
        TipState.SUBMITTED,
        lambda w, s, t: triage.open_tip(*w.args(s), t, personal_key=s.key),
    ),
    "read_attachment": (
        TipState.SUBMITTED,
        lambda w, s, t: b"".join(
            triage.read_attachment(
                *w.args(s),
                t,
                attachment_id=_attachment_id(w, t),
                personal_key=s.key,
            )
        ),
    ),
    "tip_overview": (
        TipState.SUBMITTED,
        lambda w, s, t: triage.tip_overview(w.dbs, w.clock, s.user, t),
    ),
    "accept": (TipState.SUBMITTED, lambda w, s, t: triage.accept(*w.args(s), t)),
    "not_accept": (
        TipState.SUBMITTED,
        lambda w, s, t: triage.not_accept(
            *w.args(s),
            t,
            personal_key=s.key,
            reason=NotAcceptedReason.OTHER_PROCEDURE,
            text="请通过信访途径反映。",
        ),
    ),
    "transfer": (
        TipState.SUBMITTED,
        lambda w, s, t: triage.transfer(
            *w.args(s), t, personal_key=s.key, regulator="消防救援大队", note="已转交消防。"
        ),
    ),
    "mark_duplicate": (TipState.SUBMITTED, _dup),
    "start_verification": (
        TipState.ACCEPTED,
        lambda w, s, t: triage.start_verification(*w.args(s), t),
    ),
    "extend_verification": (
        TipState.VERIFYING,
        lambda w, s, t: triage.extend_verification(
            *w.args(s), t, personal_key=s.key, days=5, reason="需补充材料。"
        ),
    ),
    "conclude": (
        TipState.VERIFYING,
        lambda w, s, t: triage.conclude(
            *w.args(s), t, personal_key=s.key, outcome=TipState.SUBSTANTIATED, text=CONCLUSION
        ),
    ),
    "conclude_recheck": (
        TipState.RECHECKING,
        lambda w, s, t: triage.conclude_recheck(
            *w.args(s), t, personal_key=s.key, outcome=TipState.SUBSTANTIATED, text="维持。"
        ),
    ),
    "close": (TipState.RECHECKED, lambda w, s, t: triage.close(*w.args(s), t)),
    "ask_reporter": (
        TipState.ACCEPTED,
        lambda w, s, t: triage.ask_reporter(*w.args(s), t, personal_key=s.key, body="请补充照片。"),
    ),
    "add_note": (
        TipState.ACCEPTED,
        lambda w, s, t: triage.add_note(*w.args(s), t, personal_key=s.key, body="已电话核实。"),
    ),
    "duplicate_suggestions": (
        TipState.SUBMITTED,
        lambda w, s, t: triage.duplicate_suggestions(*w.args(s), t),
    ),
    "redact": (
        TipState.SUBSTANTIATED,
        lambda w, s, t: cases.redact(w.dbs, w.clock, s.user, t, text="abc", passages=["b"]),
    ),
    "open_case_from_tip": (
        TipState.SUBSTANTIATED,
        lambda w, s, t: cases.open_case_from_tip(
            *w.args(s),
            t,
            personal_key=s.key,
            standard_items=["建城规〔2023〕4号/4(1)"],
            description="消防通道被杂物堵塞。",
        ),
    ),
}

METADATA = {"tip_overview"}


def expected(role: str, service: str, where: str) -> bool:
    """Whether DESIGN.md's table allows ``role`` to use ``service`` on a tip of ``where``."""
    if role == "triage_city":
        return True
    if role == "triage_own":
        return where == "own"
    if role == "supervisor":
        return service in METADATA
    return False


@pytest.mark.parametrize(
    ("role", "service", "where"), list(itertools.product(ROLES, SERVICES, ["own", "other"]))
)
def test_access_matrix(world: World, role: str, service: str, where: str) -> None:
    state, call = SERVICES[service]
    division = world.own if where == "own" else world.other
    tip_id = world.submit(division)
    if service == "read_attachment":
        tip_id = _tip_with_file(world, division)
    world.drive(tip_id, state)
    if service == "mark_duplicate":
        _prepare_original(world, tip_id)
    staff = world.staff(role)
    before = world.audit_count()
    if expected(role, service, where):
        call(world, staff, tip_id)
        if service not in METADATA | {"duplicate_suggestions"}:
            assert world.audit_count() > before  # every read and change is audited
    else:
        with pytest.raises(Forbidden):
            call(world, staff, tip_id)
        assert world.tip(tip_id).state is state
        assert world.audit_count() == before


def _tip_with_file(world: World, division: int) -> uuid.UUID:
    from core.keys import services as keys
    from core.keys.pins import KeyPins
    from intake import services as intake_services
    from intake.models import Channel, Relationship, TipCategory

    receipt = intake_services.submit_tip(
        world.dbs,
        world.clock,
        world.settings,
        keys.tip_recipients(world.dbs, world.settings, division, KeyPins(None)),
        intake_services.TipSubmission(
            description="配电箱旁堆放了很多纸箱，存在火灾隐患。",
            category=TipCategory.FIRE,
            division_id=division,
            relationship=Relationship.RESIDENT,
            channel=Channel.WEB,
        ),
        [
            intake_services.AttachmentInput(
                name="photo.jpg", content_type="image/jpeg", stream=[b"\xff\xd8 photo"]
            )
        ],
    )
    return receipt.tip_id


@pytest.mark.parametrize("role", ROLES)
def test_queue_matrix(world: World, role: str) -> None:
    own = world.submit(world.own)
    other = world.submit(world.other)
    staff = world.staff(role)
    if role not in {"triage_own", "triage_city", "supervisor"}:
        with pytest.raises(Forbidden):
            triage.queue(world.dbs, world.clock, staff.user)
        with pytest.raises(Forbidden):
            triage.queue_counts(world.dbs, world.clock, staff.user)
        return
    seen = {item.id for item in triage.queue(world.dbs, world.clock, staff.user).items}
    counts = triage.queue_counts(world.dbs, world.clock, staff.user)
    if role == "triage_own":
        assert seen == {own}
        assert counts[TipState.SUBMITTED] == 1
        # Asking for another division does not widen the scope.
        filters = triage.QueueFilters(division_id=world.other)
        assert triage.queue(world.dbs, world.clock, staff.user, filters).items == ()
    else:
        assert seen == {own, other}
        assert counts[TipState.SUBMITTED] == 2


def test_an_officer_without_a_key_may_act_but_not_read(world: World) -> None:
    tip_id = world.submit()
    keyless = world.staff("triage_keyless")
    with pytest.raises(errors.NoTipKey):
        triage.open_tip(*world.args(keyless), tip_id, personal_key=keyless.key)
    triage.accept(*world.args(keyless), tip_id)  # no text to encrypt: role and scope suffice
    with pytest.raises(errors.NoTipKey):
        triage.ask_reporter(*world.args(keyless), tip_id, personal_key=keyless.key, body="?")


def test_a_member_who_lost_the_role_reads_nothing(world: World) -> None:
    tip_id = world.submit()
    officer = world.staff("triage_own")
    triage.open_tip(*world.args(officer), tip_id, personal_key=officer.key)
    world.dbs.execute(delete(UserRole).where(UserRole.user_id == officer.user.id))
    world.dbs.expire(officer.user)
    with pytest.raises(Forbidden):
        triage.open_tip(*world.args(officer), tip_id, personal_key=officer.key)


def test_a_disabled_officer_reads_nothing(world: World) -> None:
    tip_id = world.submit()
    officer = world.staff("triage_city")
    officer.user.active = False
    with pytest.raises(Forbidden):
        triage.open_tip(*world.args(officer), tip_id, personal_key=officer.key)
    with pytest.raises(Forbidden):
        triage.queue(world.dbs, world.clock, officer.user)


def test_a_wrong_personal_key_opens_nothing(world: World) -> None:
    from core.keys.errors import NotAMember

    tip_id = world.submit()
    officer = world.staff("triage_own")
    with pytest.raises(NotAMember):
        triage.open_tip(*world.args(officer), tip_id, personal_key=bytes(32))


def test_unknown_tip(world: World) -> None:
    with pytest.raises(errors.TipNotFound):
        triage.open_tip(*world.args(), uuid.uuid4(), personal_key=world.city.key)
    with pytest.raises(errors.TipNotFound):
        triage.accept(*world.args(), uuid.uuid4())
