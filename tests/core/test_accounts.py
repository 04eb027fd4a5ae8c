"""Staff account services: creation, strength, login steps, throttling, sessions, admin rules."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.accounts import services as accounts
from core.accounts.errors import (
    CityScopeRequired,
    InvalidUsername,
    LoginExpired,
    OutOfScope,
    SelfLockout,
    UnknownDivision,
    UsernameTaken,
    WeakPassword,
    WrongCurrentPassword,
)
from core.accounts.models import LoginFailure, Role, SessionStage, StaffSession, User
from core.accounts.passphrases import entropy_bits, generate_passphrase, password_problems
from core.accounts.wordlist import WORDS
from core.audit.models import AuditRecord
from core.audit.services import SYSTEM_ACTOR
from core.clock import FakeClock
from core.errors import Forbidden, TooManyAttempts
from core.settings import Settings
from crypto import totp
from registry.models import Division
from tests.conftest import DEFAULT_PASSWORD

ADDRESS = "198.51.100.7"


def division_id(dbs: Session, name: str = "杨舍镇") -> int:
    value = dbs.scalar(select(Division.id).where(Division.name == name))
    assert value is not None
    return value


def audit_actions(dbs: Session) -> list[str]:
    return list(dbs.scalars(select(AuditRecord.action).order_by(AuditRecord.seq)))


def audit_text(dbs: Session) -> str:
    return " ".join(
        f"{r.actor_label} {r.action} {r.details}"
        for r in dbs.scalars(select(AuditRecord).order_by(AuditRecord.seq))
    )


def sessions_of(dbs: Session, user: User) -> int:
    dbs.flush()
    return int(
        dbs.scalar(
            select(func.count()).select_from(StaffSession).where(StaffSession.user_id == user.id)
        )
        or 0
    )


def password_step(
    dbs: Session,
    clock: FakeClock,
    settings: Settings,
    username: str,
    password: str = DEFAULT_PASSWORD,
    *,
    address: str | None = ADDRESS,
) -> accounts.LoginResult:
    return accounts.password_login(
        dbs, clock, settings, username=username, password=password, address=address
    )


def full_login(
    dbs: Session,
    clock: FakeClock,
    settings: Settings,
    user: User,
    secret: str,
) -> str:
    result = password_step(dbs, clock, settings, user.username)
    assert result.cookie is not None
    assert not result.needs_enrolment
    pending = accounts.find_session(dbs, clock, settings, result.cookie)
    assert pending is not None
    code = totp.code_at(totp.from_base32(secret), clock.now())
    done = accounts.complete_totp_login(
        dbs, clock, settings, pending, code=code, address=ADDRESS, cookie_value=result.cookie
    )
    assert done.cookie is not None, done.error
    return done.cookie


# ---------------------------------------------------------------- creation and strength


def test_create_user_stores_no_password_and_audits(
    dbs: Session, clock: FakeClock, settings: Settings
) -> None:
    user = accounts.create_user(
        dbs,
        clock,
        settings,
        SYSTEM_ACTOR,
        username="  Wang.Li ",
        display_name="Wang Li",
        password=DEFAULT_PASSWORD,
        roles={Role.TRIAGE_OFFICER},
        division_id=division_id(dbs),
    )
    assert user.username == "wang.li"
    assert user.role_set == {Role.TRIAGE_OFFICER}
    assert user.kdf_params == "argon2id:m=64,t=1,p=1"
    assert len(user.password_salt) == 16
    assert len(user.password_verifier) == 32
    assert DEFAULT_PASSWORD.encode() not in user.password_verifier
    assert audit_actions(dbs)[-2:] == ["user.created", "personal_key.created"]
    assert DEFAULT_PASSWORD not in audit_text(dbs)


@pytest.mark.parametrize("username", ["ab", "wang li", "王丽", "a" * 65, "x/y", ""])
def test_bad_usernames_are_refused(
    dbs: Session, clock: FakeClock, settings: Settings, username: str
) -> None:
    with pytest.raises(InvalidUsername):
        accounts.create_user(
            dbs,
            clock,
            settings,
            SYSTEM_ACTOR,
            username=username,
            display_name="X",
            password=DEFAULT_PASSWORD,
            roles=set(),
            division_id=None,
        )


def test_duplicate_username_and_unknown_division_are_refused(
    dbs: Session, clock: FakeClock, settings: Settings, make_user: Any
) -> None:
    make_user("wang.li")
    with pytest.raises(UsernameTaken):
        make_user("WANG.LI")
    with pytest.raises(UnknownDivision):
        make_user("li.na", division_id=999_999)


@pytest.mark.parametrize(
    "password",
    [
        "short 1A",  # too short
        "onlylowercaseletters",  # one kind of character
        "Password123!",  # common
        "P@ssw0rd2026!",  # common, disguised
        "aaaaaaaaaaaa1",  # repeated
        "abcabcabcabc1",  # a repeated pattern
        "1234567890ab",  # a run
        "qwertyuiop12",  # a keyboard row
        "wang.li-2026!",  # the user name
        "Wang Li 2026 !",  # the name
    ],
)
def test_weak_passwords_are_refused(
    dbs: Session, clock: FakeClock, settings: Settings, password: str
) -> None:
    with pytest.raises(WeakPassword) as info:
        accounts.create_user(
            dbs,
            clock,
            settings,
            SYSTEM_ACTOR,
            username="wang.li",
            display_name="Wang Li",
            password=password,
            roles=set(),
            division_id=None,
        )
    assert info.value.problems


def test_good_passwords_pass() -> None:
    for password in (DEFAULT_PASSWORD, "Tr0ub4dor&3 horse", "我的密码是清晨的 river 42"):
        assert password_problems(password, username="wang.li", display_name="Wang Li") == []


def test_generated_passphrases_are_strong_and_random() -> None:
    assert len(WORDS) == len(set(WORDS)) >= 1024
    assert entropy_bits() >= 70
    phrases = {generate_passphrase() for _ in range(200)}
    assert len(phrases) == 200
    for phrase in phrases:
        assert password_problems(phrase) == []
        *words, number = phrase.split("-")
        assert len(words) == 6
        assert all(w in WORDS for w in words)
        assert len(number) == 3
        assert number.isdigit()


# ---------------------------------------------------------------- login steps


def test_password_then_totp_gives_a_fresh_full_session(
    dbs: Session, clock: FakeClock, settings: Settings, make_user: Any
) -> None:
    user = make_user("wang.li", Role.TRIAGE_OFFICER)
    secret = accounts.set_totp_seed_for_tests(dbs, clock, settings, user)
    first = password_step(dbs, clock, settings, "Wang.Li")
    assert first.ok
    assert first.cookie is not None
    assert not first.needs_enrolment
    pending = accounts.find_session(dbs, clock, settings, first.cookie)
    assert pending is not None
    assert pending.stage == SessionStage.TOTP

    code = totp.code_at(totp.from_base32(secret), clock.now())
    done = accounts.complete_totp_login(
        dbs, clock, settings, pending, code=code, address=ADDRESS, cookie_value=first.cookie
    )
    assert done.ok
    assert done.cookie is not None
    assert done.cookie != first.cookie
    dbs.flush()
    assert accounts.find_session(dbs, clock, settings, first.cookie) is None
    full = accounts.find_session(dbs, clock, settings, done.cookie)
    assert full is not None
    assert full.stage == SessionStage.FULL
    assert full.user.id == user.id
    # Only SHA-256 of the cookie value is stored.
    assert full.token_hash != done.cookie.encode()
    assert len(full.token_hash) == 32
    assert user.last_login_at == clock.now()
    assert "user.login" in audit_actions(dbs)
    assert secret not in audit_text(dbs)
    assert code not in audit_text(dbs)


def test_wrong_password_and_unknown_user_fail_alike_and_are_recorded(
    dbs: Session, clock: FakeClock, settings: Settings, make_user: Any
) -> None:
    make_user("wang.li")
    wrong = password_step(dbs, clock, settings, "wang.li", password="not the password 1")
    unknown = password_step(dbs, clock, settings, "nobody.here")
    assert not wrong.ok
    assert not unknown.ok
    assert wrong.error == unknown.error == accounts.WRONG_CREDENTIALS
    dbs.flush()
    assert dbs.scalar(select(func.count()).select_from(LoginFailure)) == 4  # account + address
    assert "198.51.100.7" not in audit_text(dbs)
    assert "not the password" not in audit_text(dbs)


def test_disabled_user_cannot_log_in(
    dbs: Session, clock: FakeClock, settings: Settings, make_user: Any
) -> None:
    user = make_user("wang.li")
    user.active = False
    assert password_step(dbs, clock, settings, "wang.li").error == accounts.WRONG_CREDENTIALS


def test_user_without_totp_is_sent_to_enrolment_which_needs_a_valid_code(
    dbs: Session, clock: FakeClock, settings: Settings, make_user: Any
) -> None:
    user = make_user("wang.li")
    result = password_step(dbs, clock, settings, "wang.li")
    assert result.needs_enrolment
    assert result.cookie is not None
    pending = accounts.find_session(dbs, clock, settings, result.cookie)
    assert pending is not None
    enrolment = accounts.pending_enrolment(dbs, settings, pending)
    assert accounts.pending_enrolment(dbs, settings, pending) == enrolment  # stable on reload
    assert enrolment.uri.startswith("otpauth://totp/")
    assert enrolment.secret in enrolment.uri
    assert user.totp_seed_enc is None

    bad = accounts.confirm_totp_enrolment(
        dbs, clock, settings, pending, code="000000", address=ADDRESS, cookie_value=result.cookie
    )
    if bad.ok:  # one chance in a million that 000000 is the current code
        pytest.skip("000000 happened to be the current code")
    assert bad.error == accounts.WRONG_CODE
    assert user.totp_seed_enc is None

    code = totp.code_at(totp.from_base32(enrolment.secret), clock.now())
    done = accounts.confirm_totp_enrolment(
        dbs, clock, settings, pending, code=code, address=ADDRESS, cookie_value=result.cookie
    )
    assert done.ok
    assert user.totp_seed_enc is not None
    assert user.totp_enrolled_at == clock.now()
    assert totp.from_base32(enrolment.secret) not in user.totp_seed_enc  # sealed
    assert "user.totp_enrolled" in audit_actions(dbs)
    # The code used to confirm cannot be used again to log in.
    second = password_step(dbs, clock, settings, "wang.li")
    assert second.cookie is not None
    assert not second.needs_enrolment
    pending2 = accounts.find_session(dbs, clock, settings, second.cookie)
    assert pending2 is not None
    again = accounts.complete_totp_login(
        dbs, clock, settings, pending2, code=code, address=ADDRESS, cookie_value=second.cookie
    )
    assert again.error == accounts.CODE_USED


def test_a_code_is_accepted_once_and_earlier_codes_never(
    dbs: Session, clock: FakeClock, settings: Settings, make_user: Any
) -> None:
    user = make_user("wang.li")
    secret = accounts.set_totp_seed_for_tests(dbs, clock, settings, user)
    seed = totp.from_base32(secret)
    earlier = totp.code_for_step(seed, totp.step_at(clock.now()) - 1)
    full_login(dbs, clock, settings, user, secret)

    for code in (totp.code_at(seed, clock.now()), earlier):
        result = password_step(dbs, clock, settings, "wang.li")
        assert result.cookie is not None
        pending = accounts.find_session(dbs, clock, settings, result.cookie)
        assert pending is not None
        replay = accounts.complete_totp_login(
            dbs, clock, settings, pending, code=code, address=ADDRESS, cookie_value=result.cookie
        )
        assert not replay.ok
        assert replay.error == accounts.CODE_USED

    clock.advance(seconds=30)
    full_login(dbs, clock, settings, user, secret)


def test_pending_session_cannot_be_used_as_a_full_one(
    dbs: Session, clock: FakeClock, settings: Settings, make_user: Any
) -> None:
    user = make_user("wang.li", totp=True)
    cookie = accounts.open_session(dbs, clock, settings, user)
    full = accounts.find_session(dbs, clock, settings, cookie)
    assert full is not None
    with pytest.raises(LoginExpired):
        accounts.complete_totp_login(
            dbs, clock, settings, full, code="123456", address=None, cookie_value=cookie
        )


# ---------------------------------------------------------------- throttling


def test_throttling_per_account_lifts_after_the_window(
    dbs: Session, clock: FakeClock, settings: Settings, make_user: Any
) -> None:
    make_user("wang.li")
    for i in range(settings.login_max_failures):
        result = password_step(
            dbs, clock, settings, "wang.li", "wrong password 1!", address=f"203.0.113.{i}"
        )
        assert result.error == accounts.WRONG_CREDENTIALS
        clock.advance(minutes=1)
    # Locked even with the right password and from a fresh address.
    with pytest.raises(TooManyAttempts) as info:
        password_step(dbs, clock, settings, "wang.li", address="192.0.2.1")
    minutes = info.value.params["minutes"]
    assert minutes == settings.login_window_minutes - settings.login_max_failures
    # Another account from another address is not affected.
    make_user("li.na")
    assert password_step(dbs, clock, settings, "li.na", address="192.0.2.2").ok

    clock.advance(minutes=minutes)
    assert password_step(dbs, clock, settings, "wang.li", address="192.0.2.1").ok


def test_throttling_per_address(
    dbs: Session, clock: FakeClock, settings: Settings, make_user: Any
) -> None:
    make_user("wang.li")
    for i in range(settings.login_max_failures):
        password_step(dbs, clock, settings, f"guess{i}", "wrong password 1!")
    with pytest.raises(TooManyAttempts):
        password_step(dbs, clock, settings, "wang.li")
    assert password_step(dbs, clock, settings, "wang.li", address="192.0.2.9").ok
    clock.advance(minutes=settings.login_window_minutes, seconds=1)
    assert password_step(dbs, clock, settings, "wang.li").ok


def test_wrong_codes_count_towards_the_lock(
    dbs: Session, clock: FakeClock, settings: Settings, make_user: Any
) -> None:
    user = make_user("wang.li")
    secret = accounts.set_totp_seed_for_tests(dbs, clock, settings, user)
    right = totp.code_at(totp.from_base32(secret), clock.now())
    wrong = "000000" if right != "000000" else "111111"
    result = password_step(dbs, clock, settings, "wang.li")
    assert result.cookie is not None
    pending = accounts.find_session(dbs, clock, settings, result.cookie)
    assert pending is not None
    for _ in range(settings.login_max_failures):
        failed = accounts.complete_totp_login(
            dbs, clock, settings, pending, code=wrong, address=ADDRESS, cookie_value=result.cookie
        )
        assert failed.error == accounts.WRONG_CODE
    with pytest.raises(TooManyAttempts):
        accounts.complete_totp_login(
            dbs, clock, settings, pending, code=right, address=ADDRESS, cookie_value=result.cookie
        )


def test_throttle_keys_hide_names_and_addresses(
    dbs: Session, clock: FakeClock, settings: Settings
) -> None:
    password_step(dbs, clock, settings, "wang.li", "wrong password 1!")
    dbs.flush()
    for row in dbs.scalars(select(LoginFailure)):
        assert b"wang" not in row.key_hash
        assert ADDRESS.encode() not in row.key_hash


# ---------------------------------------------------------------- sessions


def test_idle_timeout(dbs: Session, clock: FakeClock, settings: Settings, make_user: Any) -> None:
    user = make_user("wang.li")
    cookie = accounts.open_session(dbs, clock, settings, user)
    clock.advance(minutes=settings.session_idle_minutes - 1)
    assert accounts.find_session(dbs, clock, settings, cookie) is not None  # touched
    clock.advance(minutes=settings.session_idle_minutes - 1)
    assert accounts.find_session(dbs, clock, settings, cookie) is not None
    clock.advance(minutes=settings.session_idle_minutes, seconds=1)
    assert accounts.find_session(dbs, clock, settings, cookie) is None
    assert sessions_of(dbs, user) == 0


def test_absolute_timeout(
    dbs: Session, clock: FakeClock, settings: Settings, make_user: Any
) -> None:
    user = make_user("wang.li")
    cookie = accounts.open_session(dbs, clock, settings, user)
    end = clock.now() + dt.timedelta(hours=settings.session_absolute_hours)
    while clock.now() + dt.timedelta(minutes=20) < end:
        clock.advance(minutes=20)
        assert accounts.find_session(dbs, clock, settings, cookie) is not None
    clock.advance(minutes=21)  # past the absolute limit, within the idle limit
    assert accounts.find_session(dbs, clock, settings, cookie) is None


def test_pending_session_expires_sooner(
    dbs: Session, clock: FakeClock, settings: Settings, make_user: Any
) -> None:
    user = make_user("wang.li")
    cookie = accounts.open_session(dbs, clock, settings, user, SessionStage.TOTP)
    for _ in range(accounts.PENDING_MINUTES // 5):
        clock.advance(minutes=5)
        assert accounts.find_session(dbs, clock, settings, cookie) is not None
    clock.advance(minutes=1)
    assert accounts.find_session(dbs, clock, settings, cookie) is None


def test_unknown_cookie(dbs: Session, clock: FakeClock, settings: Settings) -> None:
    assert accounts.find_session(dbs, clock, settings, "nonsense") is None
    assert accounts.find_session(dbs, clock, settings, None) is None


def test_logout_ends_all_sessions(
    dbs: Session, clock: FakeClock, settings: Settings, make_user: Any
) -> None:
    user = make_user("wang.li")
    other = make_user("li.na")
    cookies = [accounts.open_session(dbs, clock, settings, user) for _ in range(3)]
    kept = accounts.open_session(dbs, clock, settings, other)
    accounts.logout(dbs, clock, user)
    dbs.flush()
    assert all(accounts.find_session(dbs, clock, settings, c) is None for c in cookies)
    assert accounts.find_session(dbs, clock, settings, kept) is not None
    assert audit_actions(dbs)[-1] == "user.logout"


def test_change_own_password(
    dbs: Session, clock: FakeClock, settings: Settings, make_user: Any
) -> None:
    user = make_user("wang.li")
    old = accounts.open_session(dbs, clock, settings, user)
    new_password = "a new and better passphrase 77"
    with pytest.raises(WrongCurrentPassword):
        accounts.change_own_password(
            dbs,
            clock,
            settings,
            user,
            current_password="wrong one 12345",
            new_password=new_password,
        )
    with pytest.raises(WeakPassword):
        accounts.change_own_password(
            dbs, clock, settings, user, current_password=DEFAULT_PASSWORD, new_password="password"
        )
    fresh = accounts.change_own_password(
        dbs, clock, settings, user, current_password=DEFAULT_PASSWORD, new_password=new_password
    )
    dbs.flush()
    assert accounts.find_session(dbs, clock, settings, old) is None
    assert accounts.find_session(dbs, clock, settings, fresh) is not None
    assert password_step(dbs, clock, settings, "wang.li").error == accounts.WRONG_CREDENTIALS
    assert password_step(dbs, clock, settings, "wang.li", new_password).ok
    assert "user.password_changed" in audit_actions(dbs)
    assert new_password not in audit_text(dbs)


def test_changed_kdf_parameters_rehash_at_login(
    dbs: Session, clock: FakeClock, settings: Settings, make_user: Any
) -> None:
    user = make_user("wang.li")
    stronger = settings.with_changes(argon2_memory_kib=128)
    assert password_step(dbs, clock, stronger, "wang.li").ok
    assert user.kdf_params == "argon2id:m=128,t=1,p=1"
    assert password_step(dbs, clock, stronger, "wang.li").ok


# ---------------------------------------------------------------- administration


@pytest.fixture
def admins(make_user: Any, dbs: Session) -> dict[str, User]:
    yangshe = division_id(dbs)
    tangqiao = division_id(dbs, "塘桥镇")
    return {
        "city": make_user("city.admin", Role.ADMINISTRATOR),
        "yangshe": make_user("yangshe.admin", Role.ADMINISTRATOR, division_id=yangshe),
        "yangshe_user": make_user("yangshe.triage", Role.TRIAGE_OFFICER, division_id=yangshe),
        "tangqiao_user": make_user("tangqiao.case", Role.CASE_OFFICER, division_id=tangqiao),
        "city_user": make_user("city.triage", Role.TRIAGE_OFFICER),
        "plain": make_user("not.admin", Role.SUPERVISOR),
    }


def test_only_administrators_manage_users(
    dbs: Session, clock: FakeClock, settings: Settings, admins: dict[str, User]
) -> None:
    plain = admins["plain"]
    with pytest.raises(Forbidden):
        accounts.list_users(dbs, plain)
    with pytest.raises(Forbidden):
        accounts.add_user(
            dbs,
            clock,
            settings,
            plain,
            username="x.y.z",
            display_name="X",
            roles=set(),
            division_id=None,
        )
    with pytest.raises(Forbidden):
        accounts.set_active(dbs, clock, plain, admins["city_user"].id, False)
    admins["city"].active = False
    with pytest.raises(Forbidden):
        accounts.list_users(dbs, admins["city"])


def test_city_admin_manages_everyone(
    dbs: Session, clock: FakeClock, settings: Settings, admins: dict[str, User]
) -> None:
    city = admins["city"]
    names = {u.username for u in accounts.list_users(dbs, city)}
    assert {"yangshe.triage", "tangqiao.case", "city.triage"} <= names
    user, passphrase = accounts.add_user(
        dbs,
        clock,
        settings,
        city,
        username="New.Supervisor",
        display_name="New Supervisor",
        roles={Role.SUPERVISOR},
        division_id=None,
    )
    assert user.username == "new.supervisor"
    assert user.must_change_password
    assert password_problems(passphrase) == []
    assert password_step(dbs, clock, settings, "new.supervisor", passphrase).ok
    assert passphrase not in audit_text(dbs)
    accounts.update_user(
        dbs,
        clock,
        city,
        admins["tangqiao_user"].id,
        display_name="Moved",
        roles={Role.TRIAGE_OFFICER},
        division_id=None,
    )
    assert admins["tangqiao_user"].is_city_scope
    assert admins["tangqiao_user"].role_set == {Role.TRIAGE_OFFICER}
    assert audit_actions(dbs)[-1] == "user.updated"


def test_division_admin_sees_and_manages_only_their_division(
    dbs: Session, clock: FakeClock, settings: Settings, admins: dict[str, User]
) -> None:
    admin = admins["yangshe"]
    yangshe = admin.division_id
    names = {u.username for u in accounts.list_users(dbs, admin)}
    assert names == {"yangshe.admin", "yangshe.triage"}
    for other in (admins["tangqiao_user"], admins["city_user"]):
        with pytest.raises(OutOfScope):
            accounts.get_user(dbs, admin, other.id)
        with pytest.raises(OutOfScope):
            accounts.set_active(dbs, clock, admin, other.id, False)
        with pytest.raises(OutOfScope):
            accounts.reset_password(dbs, clock, settings, admin, other.id)
    # No city scope, no city roles, no other division.
    target = admins["yangshe_user"].id
    with pytest.raises(CityScopeRequired):
        accounts.update_user(
            dbs,
            clock,
            admin,
            target,
            display_name="X",
            roles={Role.TRIAGE_OFFICER},
            division_id=None,
        )
    with pytest.raises(CityScopeRequired):
        accounts.update_user(
            dbs,
            clock,
            admin,
            target,
            display_name="X",
            roles={Role.SUPERVISOR},
            division_id=yangshe,
        )
    with pytest.raises(OutOfScope):
        accounts.update_user(
            dbs,
            clock,
            admin,
            target,
            display_name="X",
            roles={Role.TRIAGE_OFFICER},
            division_id=division_id(dbs, "塘桥镇"),
        )
    with pytest.raises(CityScopeRequired):
        accounts.add_user(
            dbs,
            clock,
            settings,
            admin,
            username="new.city",
            display_name="N",
            roles={Role.TRIAGE_OFFICER},
            division_id=None,
        )
    # Within the division all is well.
    user, _ = accounts.add_user(
        dbs,
        clock,
        settings,
        admin,
        username="new.case",
        display_name="New Case",
        roles={Role.CASE_OFFICER},
        division_id=yangshe,
    )
    assert user.division_id == yangshe


def test_admin_cannot_lock_themselves_out(
    dbs: Session, clock: FakeClock, admins: dict[str, User]
) -> None:
    city = admins["city"]
    with pytest.raises(SelfLockout):
        accounts.set_active(dbs, clock, city, city.id, False)
    with pytest.raises(SelfLockout):
        accounts.update_user(
            dbs, clock, city, city.id, display_name="Me", roles={Role.AUDITOR}, division_id=None
        )
    assert city.active
    assert city.has_role(Role.ADMINISTRATOR)


def test_disable_and_reset_end_sessions(
    dbs: Session, clock: FakeClock, settings: Settings, admins: dict[str, User]
) -> None:
    city, target = admins["city"], admins["city_user"]
    accounts.open_session(dbs, clock, settings, target)
    accounts.set_active(dbs, clock, city, target.id, False)
    assert sessions_of(dbs, target) == 0
    assert not target.active
    assert audit_actions(dbs)[-1] == "user.disabled"
    accounts.set_active(dbs, clock, city, target.id, True)
    assert target.active
    assert audit_actions(dbs)[-1] == "user.enabled"

    accounts.open_session(dbs, clock, settings, target)
    passphrase = accounts.reset_password(dbs, clock, settings, city, target.id)
    assert sessions_of(dbs, target) == 0
    assert target.must_change_password
    assert password_step(dbs, clock, settings, target.username).error
    assert password_step(dbs, clock, settings, target.username, passphrase).ok
    assert passphrase not in audit_text(dbs)
    assert "user.password_reset" in audit_actions(dbs)
