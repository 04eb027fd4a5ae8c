"""`qingling rewards quote`: the JSON it prints, where its rule sets come from, and each
impossible input's error and exit status."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy.orm import Session

from core import db
from core.accounts.models import User
from core.cli import main
from migrations import load_models
from rewards.rules.models import RuleSetRecord
from rewards.rules.services import shipped_rule_sets
from tests.conftest import make_settings

NATIONAL_INTRO_ZH = (
    "适用奖励规则集 national-2018：安全生产领域举报奖励（国家标准），依据《安全生产领域举报奖励办法》"
    "（安监总财〔2018〕19号），2018-01-04起施行。"
)
NATIONAL_INTRO_EN = (
    "Rule set national-2018 applies: Rewards for reports in the field of work safety (national), "
    "based on 安全生产领域举报奖励办法 (安监总财〔2018〕19号), in force from 2018-01-04."
)


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, ["rewards", "quote", *args], env=env)


@pytest.fixture
def bare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An instance directory where `qingling init` never ran."""
    monkeypatch.chdir(tmp_path)  # no stray .env from the repository is read
    return {"QINGLING_DATA_DIR": str(tmp_path / "instance"), "QINGLING_DATABASE_URL": ""}


def _json(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    data: dict[str, Any] = json.loads(lines[0])
    assert list(data) == ["amount_fen", "rule_set", "rule", "explanation"]
    return data


def test_hazard_json_exactly(bare: dict[str, str]) -> None:
    result = run(bare, "--kind", "hazard", "--penalty-yuan", "20000")
    assert _json(result) == {
        "amount_fen": 300000,
        "rule_set": "national-2018",
        "rule": "hazard_penalty",
        "explanation": [
            NATIONAL_INTRO_ZH,
            "未记录本规则集规定的不予奖励情形。",
            "行政处罚罚款：¥20,000.00。",
            "按罚款的15%计算：¥20,000.00 × 15% = ¥3,000.00。",
            "在最低奖励¥3,000.00与最高奖励¥300,000.00之间，不作调整。",
            "奖励金额：¥3,000.00。",
        ],
    }
    # Before `qingling init` the shipped rule sets answer, the note goes to stderr, and no
    # database file is created as a side effect.
    assert "shipped rule sets only" in result.stderr
    assert not (Path(bare["QINGLING_DATA_DIR"]) / "qingling.sqlite3").exists()


def test_fines_added_with_a_half_fen_in_english(bare: dict[str, str]) -> None:
    result = run(
        bare, "--kind", "hazard", "--penalty-yuan", "150000", "--penalty-yuan", "20000.10",
        "--lang", "en",
    )  # fmt: skip
    assert _json(result) == {
        "amount_fen": 2550002,
        "rule_set": "national-2018",
        "rule": "hazard_penalty",
        "explanation": [
            NATIONAL_INTRO_EN,
            "No ground for exclusion under this rule set was recorded.",
            (
                "Fines on the unit and its responsible persons added together: ¥150,000.00 + "
                "¥20,000.10 = ¥170,000.10."
            ),
            (
                "15% of the fines: ¥170,000.10 × 15% = ¥25,500.015, rounded to the nearest fen "
                "(halves up): ¥25,500.02."
            ),
            "Between the minimum of ¥3,000.00 and the maximum of ¥300,000.00: no adjustment.",
            "Reward: ¥25,500.02.",
        ],
    }


def test_cap_on_a_large_penalty(bare: dict[str, str]) -> None:
    data = _json(run(bare, "--kind", "hazard", "--penalty-yuan", "2000000", "--lang", "en"))
    assert data["amount_fen"] == 30000000
    data = _json(run(bare, "--kind", "hazard", "--penalty-yuan", "5000000", "--lang", "en"))
    assert data["amount_fen"] == 30000000
    assert data["explanation"][-2] == (
        "Above the maximum reward of ¥300,000.00: the maximum ¥300,000.00 is paid."
    )


def test_concealed_accident_json_exactly(bare: dict[str, str]) -> None:
    result = run(bare, "--kind", "concealed-accident", "--grade", "较大", "--deaths", "3")
    assert _json(result) == {
        "amount_fen": 12000000,
        "rule_set": "national-2018",
        "rule": "concealed_accident",
        "explanation": [
            NATIONAL_INTRO_ZH,
            "未记录本规则集规定的不予奖励情形。",
            "事故最终确认等级：较大事故；经核实瞒报死亡3人。",
            "较大事故每瞒报死亡1人奖励¥40,000.00：¥40,000.00 × 3 = ¥120,000.00。",
            "未超过最高奖励¥300,000.00，不作调整。",
            "奖励金额：¥120,000.00。",
        ],
    }


@pytest.mark.parametrize(
    ("args", "amount", "rule_set", "rule"),
    [
        (("--kind", "concealed-accident", "--grade", "特别重大", "--deaths", "7"), 30000000, "national-2018", "concealed_accident"),
        (("--kind", "concealed-accident", "--grade", "一般", "--deaths", "1"), 3000000, "national-2018", "concealed_accident"),
        (("--kind", "concealed-accident", "--grade", "重大", "--deaths", "11", "--rule-set", "taizhou"), 50000000, "taizhou-2020", "concealed_accident"),
        (("--kind", "hazard", "--penalty-yuan", "20000", "--rule-set", "taizhou-2020"), 500000, "taizhou-2020", "hazard_penalty"),
        (("--kind", "hazard", "--no-penalty"), 0, "national-2018", "hazard_no_penalty"),
        (("--kind", "hazard", "--penalty-yuan", "１００000"), 1500000, "national-2018", "hazard_penalty"),
        (("--kind", "hazard", "--penalty-yuan", "100000", "--exclusion", "media_exposed"), 0, "national-2018", "exclusion.media_exposed"),
        (("--kind", "hazard", "--penalty-yuan", "100000", "--not-earliest"), 0, "national-2018", "later_reporter"),
        (("--kind", "hazard", "--penalty-yuan", "100000", "--joint-position", "1"), 1500000, "national-2018", "hazard_penalty"),
        (("--kind", "hazard", "--penalty-yuan", "100000", "--joint-position", "2"), 0, "national-2018", "joint_cosignatory"),
        (("--kind", "hazard", "--penalty-yuan", "100000", "--on", "2018-01-04", "--shipped-only"), 1500000, "national-2018", "hazard_penalty"),
    ],
)  # fmt: skip
def test_other_quotes(
    bare: dict[str, str], args: tuple[str, ...], amount: int, rule_set: str, rule: str
) -> None:
    data = _json(run(bare, *args))
    assert (data["amount_fen"], data["rule_set"], data["rule"]) == (amount, rule_set, rule)
    assert data["explanation"][-1].endswith("。")


ERRORS: list[tuple[str, tuple[str, ...], int, str]] = [
    ("negative fine", ("--kind", "hazard", "--penalty-yuan", "-5"), 2, "-5: a fine cannot be negative"),
    ("three decimals", ("--kind", "hazard", "--penalty-yuan", "20000.001"), 2, "20000.001: at most two decimals"),
    ("zero fine", ("--kind", "hazard", "--penalty-yuan", "0"), 2, "a fine must be more than ¥0 (use --no-penalty"),
    ("not a number", ("--kind", "hazard", "--penalty-yuan", "twenty"), 2, "expected an amount in yuan"),
    ("thousands separator", ("--kind", "hazard", "--penalty-yuan", "20,000"), 2, "expected an amount in yuan"),
    ("one bad fine among good", ("--kind", "hazard", "--penalty-yuan", "100", "--penalty-yuan", "1.999"), 2, "at most two decimals"),
    ("hazard without a fine", ("--kind", "hazard"), 2, "--kind hazard needs --penalty-yuan AMOUNT"),
    ("fine and no penalty", ("--kind", "hazard", "--no-penalty", "--penalty-yuan", "100"), 2, "--no-penalty cannot be combined with --penalty-yuan"),
    ("hazard with a grade", ("--kind", "hazard", "--penalty-yuan", "100", "--grade", "一般"), 2, "--grade and --deaths apply only to --kind concealed-accident"),
    ("accident with a fine", ("--kind", "concealed-accident", "--grade", "一般", "--deaths", "1", "--penalty-yuan", "100"), 2, "--penalty-yuan and --no-penalty apply only to --kind hazard"),
    ("accident with no penalty", ("--kind", "concealed-accident", "--grade", "一般", "--deaths", "1", "--no-penalty"), 2, "apply only to --kind hazard"),
    ("accident without a grade", ("--kind", "concealed-accident", "--deaths", "1"), 2, "needs --grade 一般|较大|重大|特别重大"),
    ("accident without deaths", ("--kind", "concealed-accident", "--grade", "一般"), 2, "needs --deaths N"),
    ("no deaths", ("--kind", "concealed-accident", "--grade", "一般", "--deaths", "0"), 2, "0: a concealed accident needs at least one verified concealed death"),
    ("negative deaths", ("--kind", "concealed-accident", "--grade", "重大", "--deaths", "-3"), 2, "needs at least one verified concealed death"),
    ("deaths not a number", ("--kind", "concealed-accident", "--grade", "重大", "--deaths", "two"), 2, "'two' is not a valid integer"),
    ("unknown grade", ("--kind", "concealed-accident", "--grade", "巨大", "--deaths", "1"), 2, "'巨大' is not one of '一般', '较大', '重大', '特别重大'"),
    ("unknown kind", ("--kind", "fire", "--penalty-yuan", "100"), 2, "'fire' is not one of 'hazard', 'concealed-accident'"),
    ("no kind", ("--penalty-yuan", "100"), 2, "Missing option '--kind'"),
    ("unknown language", ("--kind", "hazard", "--penalty-yuan", "100", "--lang", "fr"), 2, "'fr' is not one of 'zh', 'en'"),
    ("unknown exclusion", ("--kind", "hazard", "--penalty-yuan", "100", "--exclusion", "bribery"), 2, "'bribery' is not one of"),
    ("joint position 0", ("--kind", "hazard", "--penalty-yuan", "100", "--joint-position", "0"), 2, "0: the first signatory is 1"),
    ("bad date", ("--kind", "hazard", "--penalty-yuan", "100", "--on", "2026-02-30"), 2, "Invalid value for '--on'"),
    ("unknown rule set", ("--kind", "hazard", "--penalty-yuan", "100", "--rule-set", "atlantis"), 1, "There is no reward rule set atlantis."),
    ("before the first version", ("--kind", "hazard", "--penalty-yuan", "100", "--on", "2017-12-31"), 1, "No version of the reward rule set national is in force on 2017-12-31."),
    ("version not in force that day", ("--kind", "hazard", "--penalty-yuan", "100", "--rule-set", "taizhou-2020", "--on", "2019-01-01"), 1, "The reward rule set taizhou-2020 is not in force on 2019-01-01."),
    ("grade the rule set lacks", ("--kind", "concealed-accident", "--grade", "特别重大", "--deaths", "1", "--rule-set", "taizhou"), 1, "The reward rule set taizhou-2020 sets no amount for a 特别重大 accident."),
]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "status", "message"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS]
)
def test_impossible_input(
    bare: dict[str, str], args: tuple[str, ...], status: int, message: str
) -> None:
    result = run(bare, *args)
    assert result.exit_code == status, result.output
    assert result.stdout == ""
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_quote_is_listed_in_help(bare: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["--help"], env=bare)
    assert "rewards" in result.stdout
    result = CliRunner().invoke(main, ["rewards", "quote", "--help"], env=bare)
    assert result.exit_code == 0
    for option in ("--kind", "--penalty-yuan", "--grade", "--deaths", "--rule-set", "--lang"):
        assert option in result.stdout


def test_after_init(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = {
        "QINGLING_DATA_DIR": str(tmp_path / "instance"),
        "QINGLING_DATABASE_URL": "",
        "QINGLING_ARGON2_MEMORY_KIB": "64",
        "QINGLING_ARGON2_ITERATIONS": "1",
    }
    init = CliRunner().invoke(main, ["init"], env=env)
    assert init.exit_code == 0, init.output
    data = _json(run(env, "--kind", "hazard", "--penalty-yuan", "20000"))
    assert (data["amount_fen"], data["rule_set"]) == (300000, "national-2018")


def _database_with_a_new_national_version(tmp_path: Path) -> str:
    """An SQLite database holding an administrator's national-2027 (17.5 %)."""
    url = f"sqlite:///{tmp_path / 'rules.sqlite3'}"
    engine = db.make_engine(make_settings(tmp_path, url))
    load_models().create_all(engine)
    base = next(rs for rs in shipped_rule_sets() if rs.id == "national-2018")
    doc = json.loads(base.body)
    doc.update(id="national-2027", effective_from="2027-01-01")
    doc["hazard_penalty"]["percent"] = "17.5"
    now = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    with Session(engine) as session:
        user = User(
            username="rules_admin",
            display_name="Rules Admin",
            password_salt=b"\0" * 16,
            password_verifier=b"\0" * 32,
            kdf_params="argon2id:test",
            password_changed_at=now,
            created_at=now,
        )
        session.add(user)
        session.flush()
        session.add(
            RuleSetRecord(
                id="national-2027",
                series="national",
                effective_from=dt.date(2027, 1, 1),
                body=json.dumps(doc, ensure_ascii=False),
                body_sha256="0" * 64,
                created_at=now,
                created_by_id=user.id,
            )
        )
        session.commit()
    engine.dispose()
    return url


def test_versions_added_by_an_administrator_are_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    env = {"QINGLING_DATA_DIR": str(tmp_path / "instance"), "QINGLING_DATABASE_URL": ""}
    env["QINGLING_DATABASE_URL"] = _database_with_a_new_national_version(tmp_path)
    args = ("--kind", "hazard", "--penalty-yuan", "30000")
    data = _json(run(env, *args, "--on", "2027-06-01"))
    # 17.5 % of ¥30,000 = ¥5,250.
    assert (data["amount_fen"], data["rule_set"]) == (525000, "national-2027")
    data = _json(run(env, *args, "--on", "2026-12-31"))
    assert (data["amount_fen"], data["rule_set"]) == (450000, "national-2018")
    data = _json(run(env, *args, "--on", "2027-06-01", "--shipped-only"))
    assert data["rule_set"] == "national-2018"
    result = run(env, *args, "--on", "2027-06-01", "--rule-set", "national-2018")
    assert result.exit_code == 1
    assert "not in force on 2027-06-01" in result.stderr


def test_an_unreachable_database_is_an_error(bare: dict[str, str]) -> None:
    env = dict(bare, QINGLING_DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/none")
    result = run(env, "--kind", "hazard", "--penalty-yuan", "20000")
    assert result.exit_code == 1
    assert "cannot read the rule sets from the database" in result.stderr
    assert "--shipped-only" in result.stderr
    assert "nobody" not in result.stderr
    assert (
        _json(run(env, "--kind", "hazard", "--penalty-yuan", "20000", "--shipped-only"))[
            "amount_fen"
        ]
        == 300000
    )
