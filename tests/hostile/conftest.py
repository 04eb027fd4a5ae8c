"""What the hostile-input tests share: the verdict on one response (a clear 4xx or a success,
never a 500, and no injected markup in an HTML page), a savepoint around a request that would
change what the next one sees, and the count of inputs tried, printed at the end of the run."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import pytest
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from tests.hostile.corpus import MARK, TRIED, corpus_size

#: A clear refusal of bad input; a success is 2xx or a redirect.
CLEAR_4XX = frozenset({400, 401, 403, 404, 405, 409, 413, 415, 422, 429})
# A field's error message on a page (templates/includes/_field.html and the forms written out):
# a page that shows one refused what was sent, so it must not answer 2xx.
REFUSAL_MARK = re.compile(r'class="error-text"|class="[^"]*\bhas-error\b')


class _Injected(HTMLParser):
    """Elements and attributes in a page that only an unescaped payload could have put there:
    any element carrying the corpus's marker attribute, an inline event handler (the templates
    have none: the CSP forbids them), a script element with a body, ``<base>``, a refreshing
    ``<meta>``, ``<iframe>``, ``<object>``, ``<embed>``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name.lower() for name, _ in attrs}
        if MARK in names:
            self.found.append(f"<{tag} {MARK}>")
        self.found += [f"<{tag} {name}=…>" for name in sorted(names) if name.startswith("on")]
        values = dict(attrs)
        if tag in {"base", "iframe", "object", "embed", "frame", "frameset", "applet"}:
            self.found.append(f"<{tag}>")
        if tag == "meta" and (values.get("http-equiv") or "").lower() == "refresh":
            self.found.append("<meta http-equiv=refresh>")
        for name in ("href", "src", "action", "formaction", "data"):
            value = (values.get(name) or "").strip().lower()
            if value.startswith(("javascript:", "data:text/html")):
                self.found.append(f"<{tag} {name}={value[:20]}…>")
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.found.append("<script> with a body")


def injected(page: str) -> list[str]:
    """What in ``page`` shows that a payload was inserted unescaped (empty: nothing)."""
    parser = _Injected()
    parser.feed(page)
    parser.close()
    return parser.found


@dataclass
class Verdicts:
    """The outcome of many hostile requests, checked together so one run reports every
    failure rather than the first."""

    failures: list[str] = field(default_factory=list)

    def check(
        self,
        what: str,
        response: TestResponse,
        *,
        allowed: frozenset[int] | None = None,
        empty_4xx: bool = False,
    ) -> int:
        """Record a failure unless ``response`` is a success or a clear 4xx (``allowed``, when
        given, narrows what is acceptable) with no injected markup; its status."""
        status = response.status_code
        body = response.get_data()
        if status >= 500:
            self.failures.append(f"{what}: {status}")
            return status
        if allowed is not None and status not in allowed:
            self.failures.append(f"{what}: {status}, expected one of {sorted(allowed)}")
        if status >= 400:
            if status not in CLEAR_4XX:
                self.failures.append(f"{what}: unexpected {status}")
            elif not body and not empty_4xx:
                self.failures.append(f"{what}: {status} with an empty body")
        if response.mimetype == "text/html":
            page = body.decode("utf-8", "replace")
            if status < 300 and REFUSAL_MARK.search(page):
                self.failures.append(f"{what}: a refused form answered {status}")
            found = injected(page)
            if found:
                self.failures.append(f"{what}: injected markup {found[:3]}")
        return status

    def fail(self, what: str) -> None:
        self.failures.append(what)

    def assert_none(self) -> None:
        assert not self.failures, f"{len(self.failures)} failures:\n" + "\n".join(
            self.failures[:60]
        )


@pytest.fixture
def verdicts(caplog: pytest.LogCaptureFixture) -> Iterator[Verdicts]:
    """Collects failures; at the end also fails on any internal error the sites logged (a
    500 page, or a WeChat push that failed inside and was answered with an apology)."""
    found = Verdicts()
    with caplog.at_level(logging.WARNING):
        yield found
    for record in caplog.records:
        message = record.getMessage()
        if record.levelno >= logging.ERROR and (
            "internal error" in message or "push failed" in message
        ):
            found.fail(f"logged: {message[:300]}")
    found.assert_none()


@contextmanager
def undone(connection: Any, dbs: Session) -> Iterator[None]:
    """Run a request in a savepoint of the test's connection and roll it back, so the next
    hostile input finds the same state (an offer still open, no objection yet)."""
    savepoint = connection.begin_nested()
    try:
        yield
    finally:
        savepoint.rollback()
        dbs.expire_all()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not TRIED:
        return
    write = terminalreporter.write_line
    terminalreporter.section("hostile input")
    size = corpus_size()
    write("corpus: " + ", ".join(f"{count} {name}" for name, count in size.items()))
    for entry, count in sorted(TRIED.items()):
        write(f"  {count:6d}  {entry}")
    write(f"hostile inputs tried: {sum(TRIED.values())}")
