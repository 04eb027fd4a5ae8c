"""What both sites read from a request before a view runs: form data without nameless
fields, and whole numbers in URLs that a database column can hold.

* :class:`SiteRequest`: Werkzeug keeps a ``multipart/form-data`` part whose
  ``Content-Disposition`` has no ``name`` (a malformed or hostile request) under the key
  ``None``. Flask-WTF's CSRF check then calls ``key.endswith(...)`` on every key of
  ``request.form`` and fails with an ``AttributeError``: a 500 for a request that is simply
  malformed. Such parts are dropped when the form is parsed, so the request goes on to the
  ordinary refusal (a missing CSRF token, a required field).
* :class:`DatabaseInt`: the ``int`` URL converter, bounded by PostgreSQL's ``integer``. Werkzeug's
  own takes any number of digits, and ``/registry/999…9`` then reached the database with a
  number no driver can bind (SQLite: ``OverflowError``, a 500). Bounded, it is a 404.

Both were found by ``tests/hostile``.
"""

from __future__ import annotations

from typing import Any

from flask import Request
from werkzeug.datastructures import MultiDict
from werkzeug.routing import IntegerConverter

#: PostgreSQL's ``integer``: the widest column an id or number in a URL of ours names.
INT_MAX = 2**31 - 1


class SiteRequest(Request):
    """A Flask request whose ``form`` and ``files`` only have text keys."""

    def _load_form_data(self) -> None:
        super()._load_form_data()
        for name in ("form", "files"):
            parsed = self.__dict__.get(name)
            if isinstance(parsed, MultiDict) and None in parsed:
                self.__dict__[name] = self.parameter_storage_class(
                    [(k, v) for k, v in parsed.items(multi=True) if isinstance(k, str)]
                )


class DatabaseInt(IntegerConverter):
    """``<int:…>`` with ``max`` defaulting to :data:`INT_MAX`. Register it as ``int`` before
    any route is added: ``app.url_map.converters["int"] = DatabaseInt``."""

    def __init__(
        self,
        map: Any,  # noqa: A002 - Werkzeug's name for it
        fixed_digits: int = 0,
        min: int | None = None,  # noqa: A002 - idem
        max: int | None = INT_MAX,  # noqa: A002 - idem
        signed: bool = False,
    ) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)
