"""The Chinese catalogue covers every string in the code, and the compiled catalogue is current."""

from __future__ import annotations

import re

from core import i18n

PLACEHOLDER = re.compile(r"%\((\w+)\)s|%s|%d")


def test_every_string_in_the_code_has_a_chinese_translation() -> None:
    catalog = i18n.load()
    missing = sorted(
        m.id if isinstance(m.id, str) else m.id[0]
        for m in i18n.extract()
        if m.id and (m.id not in catalog or not catalog[m.id].string or catalog[m.id].fuzzy)
    )
    assert not missing, f"{len(missing)} strings lack a zh_CN translation, e.g. {missing[:5]}"
    assert not i18n.untranslated(catalog)


def test_placeholders_match_between_english_and_chinese() -> None:
    for message in i18n.load():
        if not message.id or not message.string:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strs = message.string if isinstance(message.string, tuple) else (message.string,)
        want = sorted(PLACEHOLDER.findall(ids[0]))
        for s in strs:
            assert sorted(PLACEHOLDER.findall(s)) == want, message.id


def test_compiled_catalogue_is_current() -> None:
    assert i18n.MO.read_bytes() == i18n.compiled(i18n.load()), (
        "run `make translations` to recompile messages.mo"
    )
