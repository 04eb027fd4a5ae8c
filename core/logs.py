"""Logging for both sites and the CLI.

The public site must never record a client address, a token, an OpenID or a search term.
Nothing in the application logs them, and the request log of ``qingling serve`` is written by
:class:`AnonymousRequestHandler`, which records only the method, the name of the matched route
(never the path or query string a visitor typed) and the status. Under gunicorn the public site runs with the access log off (see
``deploy/gunicorn-public.conf.py``).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from werkzeug.serving import WSGIRequestHandler

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure(level: str = "INFO") -> None:
    root = logging.getLogger()
    if not any(getattr(h, "_qingling", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(FORMAT))
        handler._qingling = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)
    # Werkzeug's own request log starts with the client address; ours replaces it.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # At DEBUG, Pillow logs the EXIF tags (GPS position, camera serial numbers) of every image
    # it opens: never below INFO, whatever the site's level.
    logging.getLogger("PIL").setLevel(logging.INFO)


class AnonymousRequestHandler(WSGIRequestHandler):
    """A request log line without the client address, the query string or the user agent."""

    site = "public"

    def address_string(self) -> str:
        return "-"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # The route's name, never the path: a visitor can type a search term into the path.
        endpoint = getattr(self, "environ", {}).get("qingling.endpoint", "-")
        logging.getLogger(f"qingling.{self.site}.access").info(
            "%s %s %s", self.command, endpoint, code
        )

    def log_error(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base
        logging.getLogger(f"qingling.{self.site}.access").warning(
            "request error: %s", format % args
        )

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        logging.getLogger(f"qingling.{self.site}.access").info(format, *args)


class StaffRequestHandler(AnonymousRequestHandler):
    site = "staff"
