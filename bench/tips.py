"""Benchmark of intake/: a tip submitted and opened through the services on SQLite.

Run standalone: ``.venv/bin/python bench/tips.py`` (a few seconds). On a temporary SQLite file
it prints, in µs per tip (median of several rounds, each tip its own committed transaction as a
request makes it):

- submit without files, and with a 1 MB photo;
- open with the token, and open with a group key;
- the token derivation alone, so the share of the KDF in a submission and an open is visible.

The token parameters are calibrated as ``qingling init`` does (about 50 ms), unless ``--cheap``
is given, which shows the cost of everything else. It is a benchmark, not a test: nothing here
fails on a slow machine.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from sqlalchemy import select  # noqa: E402 - after the path set-up above
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from core import db, migrate  # noqa: E402
from core.audit import services as audit  # noqa: E402
from core.clock import SystemClock  # noqa: E402
from core.keys.types import Recipient  # noqa: E402
from core.settings import SPECS, Settings, load  # noqa: E402
from crypto import envelope, tokens  # noqa: E402
from intake import services  # noqa: E402
from intake.models import Relationship, TipCategory  # noqa: E402
from registry.models import Division  # noqa: E402
from registry.services import load_default_divisions  # noqa: E402

PHOTO = 1_000_000


def make_instance(data_dir: Path, *, cheap: bool) -> tuple[Settings, sessionmaker[Session]]:
    env = {"QINGLING_DATA_DIR": str(data_dir), "QINGLING_LOG_LEVEL": "WARNING"}
    for spec in SPECS:
        if spec.secret:
            env[spec.variable] = secrets.token_hex(32)
    settings = load(env, dotenv=False)
    engine = db.make_engine(settings)
    migrate.upgrade(engine)
    factory = db.make_session_factory(engine)
    with db.unit_of_work(factory) as session:
        load_default_divisions(session, SystemClock(), audit.SYSTEM_ACTOR)
        services.initialise_token_params(session, SystemClock(), calibrate=not cheap)
    return settings, factory


def per_call_us(fn: Callable[[], object], n: int, repeats: int = 3) -> float:
    """Median over ``repeats`` rounds of the mean µs per call of ``n`` calls."""
    rounds = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        rounds.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20, help="tips per round (default 20)")
    parser.add_argument("--cheap", action="store_true", help="cheap token parameters")
    args = parser.parse_args()

    pairs = [envelope.generate_keypair() for _ in range(3)]
    recipients = [Recipient(i + 1, 1, p.public_key) for i, p in enumerate(pairs)]
    clock = SystemClock()
    with tempfile.TemporaryDirectory() as tmp:
        settings, factory = make_instance(Path(tmp), cheap=args.cheap)
        with factory() as session:
            division_id = session.scalar(select(Division.id).limit(1))
            params = services.current_token_params(session)
        assert division_id is not None
        submission = services.TipSubmission(
            description="三楼东侧消防通道被杂物堵塞，灭火器过期两年，夜间只有一名护理员值班。" * 12,
            category=TipCategory.FIRE,
            division_id=division_id,
            location="张家港市杨舍镇某某路18号三楼东侧",
            facility_name="某某颐养院",
            observed_when="上周三晚上九点",
            relationship=Relationship.EMPLOYEE,
        )
        photo = os.urandom(PHOTO)
        receipts: list[services.Receipt] = []

        def submit(with_photo: bool = False) -> None:
            files = (
                [services.AttachmentInput("p.jpg", "image/jpeg", iter([photo]), True)]
                if with_photo
                else []
            )
            with db.unit_of_work(factory) as session:
                receipts.append(
                    services.submit_tip(session, clock, settings, recipients, submission, files)
                )

        def open_token() -> None:
            with db.unit_of_work(factory) as session:
                services.open_with_token(session, settings, receipts[0].token.display)

        def open_group() -> None:
            with db.unit_of_work(factory) as session:
                services.open_with_group_key(
                    session, receipts[0].tip_id, 1, 1, pairs[0].private_key
                )

        token = tokens.generate_token()
        kdf = per_call_us(
            lambda: tokens.derive_token_secret(token, pepper=settings.token_pepper, params=params),
            args.n,
        )
        results = {
            "submit, no files": per_call_us(submit, args.n),
            f"submit, one {PHOTO // 1_000_000} MB photo": per_call_us(lambda: submit(True), args.n),
            "open with the token": per_call_us(open_token, args.n),
            "open with a group key": per_call_us(open_group, args.n),
        }
    print(f"token parameters: n={params.n} r={params.r} p={params.p}")
    print(f"{'token KDF alone':32} {kdf:10.0f} µs")
    for label, value in results.items():
        share = f"  (KDF {kdf / value:4.0%})" if "group" not in label else ""
        print(f"{label:32} {value:10.0f} µs{share}")


if __name__ == "__main__":
    main()
