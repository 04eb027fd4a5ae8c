"""Property-based fuzzing (Hypothesis) of the parsers that read what an attacker sends: the
tracking token (typed text, and through intake's token entry), the envelope decoder (random and
mutated envelopes), WeChat's XML and message crypto (random documents, random ciphertext,
random query parameters), and the registry import (random rows in CSV and .xlsx, random
files). Each parser either returns a result or raises its one documented error, nothing else.
Example counts are bounded so the whole module runs in seconds."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import functools
import io
import string
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from sqlalchemy.orm import Session

from core.audit.services import SYSTEM_ACTOR
from core.clock import FakeClock
from core.errors import DomainError
from crypto import envelope as env
from crypto import tokens, wechat
from crypto.errors import CryptoError, DecryptionFailed, InvalidToken, MalformedEnvelope
from intake import errors as intake_errors
from intake import services as intake_services
from intake.wechat import protocol
from registry import fields
from registry.errors import ImportFileError
from registry.fields import FIELDS, FieldError
from registry.services.facility_types import load_default_facility_types
from registry.services.imports import import_facilities
from registry.tables import TableError, read_table, xlsx_text
from tests.hostile.corpus import STRINGS, tried

FAST = settings(max_examples=150, deadline=None)
SLOW = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

#: Characters an attacker reaches for: every family of the corpus, and the token alphabet.
HOSTILE_CHARS = "".join(sorted({ch for item in STRINGS for ch in item.value[:200]}))
#: Any code point (lone surrogates too, which JSON carries and ``st.text`` never draws),
#: weighted towards the characters of the corpus.
texts = st.lists(
    st.one_of(
        st.characters(blacklist_categories=()),
        st.sampled_from(HOSTILE_CHARS + tokens.ALPHABET + "-－ "),
        st.sampled_from("\ud800\udfff\x00\r\n\u202e\ufffe\ufdfa"),
    ),
    max_size=120,
).map("".join)


E = TypeVar("E", bound=BaseException)


def raised(call: Callable[[], object], allowed: type[E]) -> E | None:
    """The error ``call`` raised, if it is an ``allowed`` one; None when it returned. Any
    other exception propagates: that is what the fuzzing looks for."""
    try:
        call()
    except allowed as exc:
        return exc
    return None


# ---------------------------------------------------------------- tokens


@FAST
@given(texts)
def test_token_normalisation_raises_only_invalid_token(text: str) -> None:
    error = raised(lambda: tokens.normalise_token(text), InvalidToken)
    if error is not None:
        assert error.reason in {"empty", "length", "character", "letter_u"}
        return
    value = tokens.normalise_token(text)
    assert len(value) == tokens.TOKEN_LEN
    assert set(value) <= set(tokens.ALPHABET)
    error = raised(lambda: tokens.parse_token(text), InvalidToken)
    if error is not None:
        assert error.reason == "check"
    else:
        token = tokens.parse_token(text)
        assert tokens.parse_token(token.display) == token


@FAST
@given(
    st.builds(tokens.generate_token),
    st.lists(st.sampled_from(" -－\u200b\u3000\t"), max_size=6),
    st.booleans(),
    st.booleans(),
)
def test_any_typing_of_a_token_parses_to_it(
    token: tokens.TrackingToken, separators: list[str], lower: bool, fullwidth: bool
) -> None:
    text = token.value.lower() if lower else token.value
    if fullwidth:
        text = "".join(chr(ord(c) + 0xFEE0) for c in text)
    for position, sep in enumerate(separators):
        at = (position * 5) % len(text)
        text = text[:at] + sep + text[at:]
    assert tokens.parse_token(text) == token


@pytest.fixture
def token_params(dbs: Session, clock: FakeClock) -> None:
    intake_services.initialise_token_params(dbs, clock, calibrate=False)
    dbs.flush()


@SLOW
@given(text=texts)
def test_token_entry_raises_only_its_two_errors(
    dbs: Session, settings: Any, token_params: None, text: str
) -> None:
    """Intake's token entry (what the site and the API call): a typo or an unknown token."""
    error = raised(lambda: intake_services.unlock_with_token(dbs, settings, text), DomainError)
    assert error is None or isinstance(error, intake_errors.TokenTypo | intake_errors.UnknownToken)
    tried("fuzz: intake token entry (examples)")


# ---------------------------------------------------------------- envelopes

TIP = uuid.UUID("00000000-0000-4000-8000-000000000001")
KEY = env.new_data_key()
PAIR = env.generate_keypair()
FIELD = {"tip_id": TIP, "kind": "tip", "object_id": TIP, "field_name": "description"}


def _openers() -> dict[str, Callable[[bytes], object]]:
    return {
        "parse": env.parse_envelope,
        "unpad": env.unpad,
        "field": lambda b: env.decrypt_field(KEY, b, **FIELD),  # type: ignore[arg-type]
        "text": lambda b: env.decrypt_text(KEY, b, **FIELD),  # type: ignore[arg-type]
        "data key": lambda b: env.open_data_key(
            PAIR.private_key, b, tip_id=TIP, group_id=1, group_version=1
        ),
        "group key": lambda b: env.open_group_key(
            PAIR.private_key, b, group_id=1, group_version=1, user_id=1, user_key_version=1
        ),
        "wrapped": lambda b: env.unwrap(KEY, b, purpose="data-key/reporter", context=(TIP,)),
    }


OPENERS = _openers()
VALID = {
    "field": env.encrypt_text(KEY, "消防通道堵塞了很多天", **FIELD),  # type: ignore[arg-type]
    "data key": env.seal_data_key(PAIR.public_key, KEY, tip_id=TIP, group_id=1, group_version=1),
    "wrapped": env.wrap(KEY, b"x" * 32, purpose="data-key/reporter", context=(TIP,)),
}


@FAST
@given(st.binary(max_size=400))
def test_random_bytes_raise_only_crypto_errors(blob: bytes) -> None:
    for name, opener in OPENERS.items():
        error = raised(lambda opener=opener: opener(blob), CryptoError)  # type: ignore[misc]
        assert error is not None or name in {"unpad", "parse"}, f"{name} opened random bytes"


@FAST
@given(st.sampled_from(sorted(VALID)), st.data())
def test_mutated_envelopes_never_open(name: str, data: st.DataObject) -> None:
    """A flipped bit, a cut, an extension or a spliced run of bytes in a real envelope: the
    opener refuses with DecryptionFailed or MalformedEnvelope, never a wrong plaintext."""
    blob = bytearray(VALID[name])
    how = data.draw(st.sampled_from(["flip", "cut", "extend", "splice"]))
    if how == "flip":
        position = data.draw(st.integers(0, len(blob) * 8 - 1))
        blob[position // 8] ^= 1 << (position % 8)
    elif how == "cut":
        blob = blob[: data.draw(st.integers(0, len(blob) - 1))]
    elif how == "extend":
        blob += data.draw(st.binary(min_size=1, max_size=64))
    else:
        start = data.draw(st.integers(0, len(blob) - 1))
        noise = data.draw(st.binary(min_size=1, max_size=16))
        assume(bytes(blob[start : start + len(noise)]) != noise)
        blob[start : start + len(noise)] = noise
    opener = OPENERS["text" if name == "field" else name]
    with pytest.raises((DecryptionFailed, MalformedEnvelope)):
        opener(bytes(blob))


# ---------------------------------------------------------------- WeChat XML and crypto

TOKEN = "QinglingTest2026"
AES = bytes(range(1, 33))
APPID = "wx5a1e0c9d3b7f2468"
CRYPTO = wechat.MessageCrypto(TOKEN, AES, APPID)
CHANNEL = protocol.Channel(TOKEN, CRYPTO, sandbox=False)
NOW = 1_800_000_000

names = st.sampled_from(
    ["xml", "ToUserName", "FromUserName", "CreateTime", "MsgType", "Content", "MsgId",
     "Event", "EventKey", "Encrypt", "MediaId", "a", "x-y", "_"]
)  # fmt: skip
xml_text = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=40)


@st.composite
def documents(draw: st.DrawFn, depth: int = 0) -> str:
    """Random XML-ish documents: elements, text, CDATA, entities, comments, declarations,
    broken tags."""
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["element", "text", "cdata", "entity", "junk", "comment"]))
        if kind == "element" and depth < 4:
            name = draw(names)
            parts.append(f"<{name}>{draw(documents(depth + 1))}</{name}>")
        elif kind == "cdata":
            parts.append(f"<![CDATA[{draw(xml_text)}]]>")
        elif kind == "entity":
            parts.append(
                draw(st.sampled_from(["&amp;", "&lt;", "&#0;", "&#x1F4A9;", "&e;", "&#xD800;"]))
            )
        elif kind == "junk":
            parts.append(
                draw(
                    st.sampled_from(
                        [
                            "<",
                            ">",
                            "</a>",
                            "<a",
                            "<!DOCTYPE x>",
                            "<?xml ?>",
                            "]]>",
                            "<!ENTITY e 'x'>",
                        ]
                    )
                )
            )
        elif kind == "comment":
            parts.append(f"<!--{draw(xml_text)}-->")
        else:
            parts.append(draw(xml_text).replace("<", "&lt;").replace("&", "&amp;"))
    return "".join(parts)


@FAST
@given(st.one_of(st.binary(max_size=300), documents().map(lambda d: f"<xml>{d}</xml>".encode())))
def test_wechat_xml_parser_raises_only_rejected(body: bytes) -> None:
    error = raised(lambda: protocol.parse_xml(body), protocol.Rejected)
    if error is not None:
        assert error.status in {400, 413}
        return
    parsed = protocol.parse_xml(body)
    error = raised(lambda: protocol.message_of(parsed), protocol.Rejected)
    assert error is None or error.status == 400


@FAST
@given(st.dictionaries(names, xml_text, max_size=8))
def test_wechat_message_fields_raise_only_rejected(values: dict[str, str]) -> None:
    try:
        message = protocol.message_of(values)
    except protocol.Rejected:
        return
    reply = protocol.text_reply(message, values.get("Content", ""), now=NOW)
    assert protocol.parse_xml(reply)["Content"] is not None  # a reply always parses


@FAST
@given(texts)
def test_wechat_decrypt_of_random_text_raises_only_its_errors(ciphertext: str) -> None:
    with pytest.raises(wechat.WeChatCryptoError):
        wechat.decrypt(AES, APPID, ciphertext)


@FAST
@given(st.binary(max_size=300).map(lambda b: base64.b64encode(b).decode()))
def test_wechat_decrypt_of_random_base64_raises_only_its_errors(ciphertext: str) -> None:
    """Base64 of random bytes goes past decoding into AES, unpadding and framing."""
    with pytest.raises(wechat.WeChatCryptoError):
        wechat.decrypt(AES, APPID, ciphertext)


@FAST
@given(st.binary(max_size=200), st.data())
def test_wechat_mutated_ciphertext_raises_only_its_errors(
    message: bytes, data: st.DataObject
) -> None:
    raw = bytearray(base64.b64decode(wechat.encrypt(AES, APPID, message)))
    position = data.draw(st.integers(0, len(raw) - 1))
    raw[position] ^= data.draw(st.integers(1, 255))
    try:
        opened = wechat.decrypt(AES, APPID, base64.b64encode(bytes(raw)).decode())
    except wechat.WeChatCryptoError:
        return
    # CBC is not authenticated (msg_signature is): a flip can only come out as other bytes.
    assert isinstance(opened, bytes)


@FAST
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "signature",
                "timestamp",
                "nonce",
                "encrypt_type",
                "msg_signature",
                "openid",
                "echostr",
            ]
        ),
        texts,
        max_size=7,
    ),
    st.one_of(st.binary(max_size=300), documents().map(lambda d: f"<xml>{d}</xml>".encode())),
)
def test_wechat_push_of_random_query_and_body_raises_only_rejected(
    args: dict[str, str], body: bytes
) -> None:
    for channel in (CHANNEL, protocol.Channel(TOKEN, None, sandbox=True)):
        for call in (
            lambda c=channel: protocol.open_push(c, args, body, now=NOW),
            lambda c=channel: protocol.verify_url(c, args, now=NOW),
        ):
            error = raised(call, protocol.Rejected)
            assert error is None or 400 <= error.status < 500


@FAST
@given(texts, texts, texts, texts)
def test_wechat_signature_checks_raise_only_their_errors(
    given_sig: str, timestamp: str, nonce: str, extra: str
) -> None:
    with pytest.raises(wechat.SignatureMismatch):
        wechat.check_signature(given_sig + "!", TOKEN, timestamp, nonce, extra)
    raised(lambda: wechat.check_timestamp(timestamp, NOW), wechat.StaleTimestamp)
    raised(lambda: wechat.aes_key(given_sig), wechat.BadAESKey)


@FAST
@given(documents())
def test_wechat_signed_encrypted_random_documents_raise_only_rejected(document: str) -> None:
    """A push signed and encrypted as WeChat does, around a random inner document."""
    inner = f"<xml>{document}</xml>".encode()
    ciphertext = wechat.encrypt(AES, APPID, inner)
    timestamp, nonce = str(NOW), "12345"
    args = {
        "signature": wechat.signature(TOKEN, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
        "encrypt_type": "aes",
        "msg_signature": wechat.signature(TOKEN, timestamp, nonce, ciphertext),
    }
    body = f"<xml><Encrypt><![CDATA[{ciphertext}]]></Encrypt></xml>".encode()
    error = raised(lambda: protocol.open_push(CHANNEL, args, body, now=NOW), protocol.Rejected)
    if error is not None:
        assert error.status == 400
        return
    assert protocol.open_push(CHANNEL, args, body, now=NOW).encrypted


# ---------------------------------------------------------------- the registry import

HEADERS = [spec.header_zh for spec in FIELDS]
cells = st.one_of(
    st.text(max_size=30),
    st.text(alphabet=string.digits + ".,-+ 年月日/:", max_size=12),
    st.sampled_from(
        [
            "杨舍镇",
            "塘桥镇",
            "elderly_care_home",
            "养老机构",
            "是",
            "否",
            "运营",
            "=1+1",
            "@x",
            "-5",
            "+86 512 5555",
            "1-3,5",
            "电梯|2|梯1|2027-03-31",
            "'=x",
            "B1~3",
            "1e309",
            "nan",
        ]
    ),
    st.sampled_from(
        [item.value for item in STRINGS if "\x00" not in item.value and len(item.value) < 400]
    ),
)
#: Cells as openpyxl writes them: text, numbers (nan and infinities too), booleans, dates.
xlsx_cells = st.one_of(
    cells.map(xlsx_text),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.dates(min_value=dt.date(1, 1, 1)),
    st.datetimes(min_value=dt.datetime(1900, 1, 1)),  # noqa: DTZ001 - spreadsheet times are naive
    st.none(),
)


@pytest.fixture
def registry_ready(dbs: Session, clock: FakeClock) -> None:
    load_default_facility_types(dbs, clock, SYSTEM_ACTOR)
    dbs.flush()


@pytest.fixture
def savepoint(connection: Any, dbs: Session) -> Callable[[], Any]:
    """A savepoint per example, rolled back: each import sees the same registry."""

    def _each() -> Iterator[None]:
        point = connection.begin_nested()
        try:
            yield
        finally:
            point.rollback()
            dbs.expire_all()

    from contextlib import contextmanager

    return contextmanager(_each)


def _check_report(report: Any, rows: list[list[Any]]) -> None:
    taken = report.created + report.updated + report.unchanged + len(report.rejected)
    assert taken == report.rows
    assert report.rows <= len(rows)
    for rejected in report.rejected:
        assert rejected.problems, rejected


def _valid(spec: fields.FieldSpec) -> st.SearchStrategy[Any]:  # noqa: PLR0911 - one per kind
    """Values a good row could hold for ``spec`` (as text, or typed as Excel stores them)."""
    kind = spec.kind
    if spec.name == "name":
        return st.text(alphabet="养老院敬护理中心阳光幸福家园一二三", min_size=2, max_size=12).map(
            lambda t: "模糊" + t
        )
    if kind is fields.Kind.DIVISION:
        return st.sampled_from(["杨舍镇", "塘桥镇", "金港街道"])
    if kind is fields.Kind.FACILITY_TYPE:
        return st.sampled_from(["elderly_care_home", "养老机构"])
    if kind is fields.Kind.CREDIT_CODE:
        from tests.registry.conftest import credit_code

        return st.integers(0, 10**6).map(credit_code)
    if kind in {fields.Kind.CHOICE, fields.Kind.BOOL}:
        return st.sampled_from([c.zh for c in spec.choices])
    if kind is fields.Kind.INT:
        low = int(spec.minimum if spec.minimum is not None else -(10**6))
        high = int(spec.maximum if spec.maximum is not None else 10**6)
        return st.one_of(st.integers(low, high), st.integers(low, high).map(str))
    if kind is fields.Kind.FLOAT:
        return st.floats(
            spec.minimum if spec.minimum is not None else -1e6,
            spec.maximum if spec.maximum is not None else 1e6,
            allow_nan=False,
        )
    if kind is fields.Kind.DATE:
        return st.one_of(
            st.dates(fields.DATE_MIN, fields.DATE_MAX),
            st.dates(fields.DATE_MIN, fields.DATE_MAX).map(lambda d: d.strftime("%Y年%m月%d日")),
        )
    if kind is fields.Kind.FLOORS:
        return st.sampled_from(["1-3,5", "B1,1～2", "2", "1到4层"])
    if kind is fields.Kind.EQUIPMENT:
        return st.sampled_from(["电梯|2|梯1|2027-03-31", "锅炉", "电梯; 锅炉|1"])
    if kind is fields.Kind.PHONE:
        return st.sampled_from(["+86 512 5555 1234", "0512-58881234", "13800000000转8"])
    return st.text(max_size=min(spec.max_length or 40, 40))


VALID_CELLS = {spec.header_zh: _valid(spec) for spec in FIELDS}
REQUIRED = ["机构名称", "所属镇（街道、园区）", "机构类型"]


@st.composite
def sheets(draw: st.DrawFn, *, typed: bool) -> tuple[list[str], list[list[Any]]]:
    """A header (nine times in ten with the three columns a new facility needs) and rows of
    good values for their columns, half of them with one hostile cell."""
    header = draw(st.lists(st.sampled_from(HEADERS), max_size=10, unique=True))
    if draw(st.integers(0, 9)):
        header = REQUIRED + [h for h in header if h not in REQUIRED]
    header += draw(st.lists(st.sampled_from(["备注", "", "=x", "名称 "]), max_size=1))
    junk = xlsx_cells if typed else cells
    rows = []
    for _ in range(draw(st.integers(0, 6))):
        # Half the rows good throughout; the others with one hostile cell.
        bad = draw(st.one_of(st.none(), st.integers(0, len(header) - 1)))
        rows.append(
            [
                draw(junk if i == bad or h not in VALID_CELLS else VALID_CELLS[h])
                for i, h in enumerate(header)
            ]
        )
    return header, rows


#: Facilities the random imports created or changed: a test at the end checks the fuzzing got
#: past the refusals (a generator that only made bad rows would prove little).
IMPORTED: dict[str, int] = {"csv": 0, "xlsx": 0}


def _import_into(
    reports: list[Any], dbs: Session, clock: FakeClock, data: bytes, division: str
) -> None:
    reports.append(
        import_facilities(
            dbs, clock, SYSTEM_ACTOR, data, filename="f.csv", default_division=division
        )
    )


@SLOW
@given(sheet=sheets(typed=False))
def test_random_csv_rows_raise_only_row_errors(
    dbs: Session,
    clock: FakeClock,
    registry_ready: None,
    savepoint: Any,
    sheet: tuple[list[str], list[list[Any]]],
) -> None:
    header, rows = sheet
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([["" if c is None else str(c) for c in row] for row in rows])
    data = out.getvalue().encode("utf-8", "surrogatepass")
    for division in ("", "杨舍镇"):
        with savepoint():
            reports: list[Any] = []
            error = raised(
                functools.partial(_import_into, reports, dbs, clock, data, division),
                ImportFileError,  # no header row found: a file error, not a crash
            )
            if error is None:
                _check_report(reports[0], rows)
                IMPORTED["csv"] += reports[0].created + reports[0].updated


@SLOW
@given(sheet=sheets(typed=True))
def test_random_xlsx_rows_raise_only_row_errors(
    dbs: Session,
    clock: FakeClock,
    registry_ready: None,
    savepoint: Any,
    sheet: tuple[list[str], list[list[Any]]],
) -> None:
    header, rows = sheet
    book = Workbook()
    worksheet = book.active
    assert worksheet is not None
    worksheet.append(header)
    for row in rows:
        worksheet.append([xlsx_text(c) if isinstance(c, str) else c for c in row])
    out = io.BytesIO()
    book.save(out)
    with savepoint():
        try:
            report = import_facilities(dbs, clock, SYSTEM_ACTOR, out.getvalue(), filename="f.xlsx")
        except ImportFileError:
            return
        _check_report(report, rows)
        IMPORTED["xlsx"] += report.created + report.updated


def test_the_random_imports_reached_the_registry() -> None:
    """Runs after the two above (pytest keeps the order of a module)."""
    assert IMPORTED["csv"] > 0, IMPORTED
    assert IMPORTED["xlsx"] > 0, IMPORTED


@FAST
@given(
    st.one_of(st.binary(max_size=400), st.binary(max_size=200).map(lambda b: b"PK\x03\x04" + b)),
    st.sampled_from(["f.csv", "f.xlsx", "f.xls", ""]),
)
def test_random_files_raise_only_table_errors(data: bytes, filename: str) -> None:
    try:
        table = read_table(data, filename)
    except TableError:
        return
    assert table.format in {"csv", "xlsx"}


@FAST
@given(st.sampled_from(FIELDS), xlsx_cells)
def test_every_cell_parser_raises_only_field_errors(spec: fields.FieldSpec, raw: Any) -> None:
    raised(lambda: fields.parse_cell(spec, raw), FieldError)


def test_fuzz_counts() -> None:
    """What this module tries, for the report at the end of the run."""
    counts = {
        "fuzz: tokens": 2 * 150,
        "fuzz: envelopes": 2 * 150,
        "fuzz: WeChat XML, messages, pushes, signatures, crypto": 8 * 150,
        "fuzz: registry import (files, cells)": 2 * 150,
        "fuzz: registry import (CSV and xlsx rows)": 3 * 40,
    }
    for entry, count in counts.items():
        tried(entry, count)
    assert sum(counts.values()) > 0
