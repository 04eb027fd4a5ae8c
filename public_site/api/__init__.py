"""The public JSON API under ``/api/v1`` (for a WeChat mini-program or an H5 page), described by
``/api/v1/openapi.json`` (:mod:`public_site.api.openapi`).

**CSRF.** The API is exempt from the CSRF check, and that is safe only because it never uses
a cookie: a request is anonymous (``POST /tips``, ``POST /session``, ``GET /meta``, ``GET
/facilities``) or carries ``Authorization: Bearer …`` (the reporter-session value that ``POST
/session`` returned), a header a browser never adds to a cross-site request by itself. The API
views never read or write the Flask session, so a reporter logged in on the web pages gives a
cross-site page no power over the API, and API responses set no cookie. No CORS header is sent:
another origin's script cannot read an answer.

**Errors** are ``{"error": {"code", "message", "fields"}}`` (``fields`` maps a request field to
its message) with 400, 401, 404, 413, 415, 422, 429 or 503; bad input never gives a 500.
"""

from __future__ import annotations

from public_site.api.views import bp

__all__ = ["bp"]
