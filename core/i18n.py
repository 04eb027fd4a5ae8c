"""Maintaining the message catalogue: extract, update, compile (``make translations``).

Strings are English in the code; ``zh_CN`` is the default language and its catalogue must be
complete (checked by ``tests/core/test_i18n.py``). See docs/translations.md.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = Path(__file__).resolve().parent / "translations"
LOCALE = "zh_CN"
# Babel parses zh_CN as zh_Hans_CN and looks for the catalogue under that name.
PO = TRANSLATIONS / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")

KEYWORDS: dict[str, tuple[int, ...] | None] = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "N_": None,
    "lazy_gettext": None,
    "_l": None,
}
METHODS = [
    ("**/.venv/**", "ignore"),
    ("**/tests/**", "ignore"),
    ("**/build/**", "ignore"),
    ("**/bench/**", "ignore"),
    ("**.py", "python"),
    ("templates/**.html", "jinja2"),
]


def extract() -> Catalog:
    template = Catalog(project="qingling")
    for filename, lineno, message, comments, context in extract_from_dir(
        str(ROOT), METHODS, keywords=KEYWORDS
    ):
        template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return template


def load() -> Catalog:
    if not PO.exists():
        return Catalog(locale=LOCALE, project="qingling")
    with PO.open("rb") as fh:
        return read_po(fh, locale=LOCALE)


def untranslated(catalog: Catalog) -> list[str]:
    out = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(strings):
            out.append(message.id if isinstance(message.id, str) else message.id[0])
    return out


def compiled(catalog: Catalog) -> bytes:
    buf = io.BytesIO()
    write_mo(buf, catalog)
    return buf.getvalue()


def main() -> int:
    catalog = load()
    catalog.update(extract(), no_fuzzy_matching=True)
    PO.parent.mkdir(parents=True, exist_ok=True)
    with PO.open("wb") as fh:
        write_po(fh, catalog, width=100, omit_header=False, ignore_obsolete=True, no_location=True)
    todo = untranslated(load())
    if todo:
        print(f"{len(todo)} untranslated entries in {PO}:", file=sys.stderr)
        for msgid in todo:
            print(f"  {msgid}", file=sys.stderr)
        return 1
    MO.write_bytes(compiled(load()))
    print(f"compiled {MO}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
