"""The WeChat server API, as far as this service uses it: an access token, downloading a photo
a reporter sent (``media/get``), and sending a one-time subscription message.

* The access token comes from ``POST /cgi-bin/stable_token`` and is cached in this process
  until five minutes before it expires. The stable token is the same for every caller until
  then, so several processes (and the job on several nodes) can each fetch it without
  invalidating one another's. A call answered with 40001, 40014 or 42001 (invalid or expired
  token) gets one forced refresh and is tried once more.
* Network errors and HTTP 5xx are tried again (:data:`ATTEMPTS` in all, with a short pause).
* ``media/get`` can answer HTTP 200 with a JSON error, so the Content-Type decides.

Only the standard library (``urllib``): no new dependency. Nothing here logs a URL (they carry
the access token and MediaIds), a body or an OpenID; errors carry the ``errcode`` only.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from core.settings import Settings

#: Whole-call attempts for network errors and HTTP 5xx.
ATTEMPTS = 3
RETRY_PAUSE = 0.5
TIMEOUT = 15.0
#: A token is refreshed this long before WeChat says it expires.
REFRESH_MARGIN = 300
#: errcodes meaning "the access token is invalid or expired".
TOKEN_ERRORS = frozenset({40001, 40014, 42001})
#: errcode of a MediaId WeChat does not know (deleted after three days, or never valid).
INVALID_MEDIA = 40007
#: errcodes after which trying again cannot help: invalid OpenID (40003), invalid MediaId
#: (40007), invalid template (40037), bad parameters (47003), no consent or consent used
#: (43101). Others (-1 "system busy", 45009 "call limit reached", …) are tried again later.
PERMANENT_ERRORS = frozenset({40003, INVALID_MEDIA, 40037, 43101, 47003})
#: Largest download accepted (the per-file limit of intake).
MAX_MEDIA = 20 * 1024 * 1024
MAX_JSON = 64 * 1024


class ApiError(Exception):
    """WeChat answered with an error (``errcode``), or not at all (``errcode`` None)."""

    def __init__(self, errcode: int | None, what: str) -> None:
        super().__init__(f"{what} (errcode {errcode})")
        self.errcode = errcode

    @property
    def permanent(self) -> bool:
        """Trying again cannot help (an unknown MediaId, no consent, a bad request)."""
        return self.errcode in PERMANENT_ERRORS


@dataclass(frozen=True)
class Media:
    content_type: str
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class HttpResponse:
    status: int
    content_type: str
    body: bytes = field(repr=False)


#: ``(method, url, body, content_type, limit) -> HttpResponse``; raises ``OSError``.
Transport = Callable[[str, str, bytes | None, str | None, int], HttpResponse]


def urllib_transport(
    method: str, url: str, body: bytes | None, content_type: str | None, limit: int
) -> HttpResponse:
    if urlsplit(url).scheme not in {"https", "http"}:
        raise OSError("the WeChat API base must be an http(s) URL")
    headers = {"Content-Type": content_type} if content_type else {}
    request = urllib.request.Request(url, data=body, headers=headers, method=method)  # noqa: S310 - scheme checked above
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 - idem
            data = response.read(limit + 1)
            return HttpResponse(response.status, response.headers.get_content_type(), data)
    except urllib.error.HTTPError as exc:
        data = exc.read(MAX_JSON) if exc.fp is not None else b""
        return HttpResponse(exc.code, exc.headers.get_content_type() if exc.headers else "", data)


# Tokens by (API base, AppID): (token, expiry as a time.time() value).
_TOKENS: dict[tuple[str, str], tuple[str, float]] = {}
_TOKENS_LOCK = threading.Lock()


def forget_tokens() -> None:
    """Drop the cached access tokens (tests, or after the AppSecret was changed)."""
    with _TOKENS_LOCK:
        _TOKENS.clear()


class WeChatApi:
    """A client of one Official Account's API (``settings.wechat_api_base``)."""

    def __init__(
        self,
        settings: Settings,
        *,
        transport: Transport = urllib_transport,
        now: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base = settings.wechat_api_base.rstrip("/")
        self.appid = settings.wechat_appid
        self._secret = settings.wechat_appsecret
        self._transport = transport
        self._now = now
        self._sleep = sleep

    @property
    def configured(self) -> bool:
        return bool(self.base and self.appid and self._secret)

    # ------------------------------------------------------------------ plumbing

    def _http(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        body: Any = None,
        limit: int = MAX_JSON,
    ) -> HttpResponse:
        url = f"{self.base}{path}?{urlencode(query)}" if query else f"{self.base}{path}"
        payload = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        content_type = None if body is None else "application/json; charset=utf-8"
        last: ApiError | None = None
        for attempt in range(ATTEMPTS):
            if attempt:
                self._sleep(RETRY_PAUSE * attempt)
            try:
                response = self._transport(method, url, payload, content_type, limit)
            except OSError:  # includes URLError, timeouts, refused connections
                last = ApiError(None, f"{path}: no answer")
                continue
            if response.status >= 500:
                last = ApiError(None, f"{path}: HTTP {response.status}")
                continue
            if len(response.body) > limit:
                raise ApiError(None, f"{path}: answer too large")
            return response
        assert last is not None  # noqa: S101 - the loop ran at least once
        raise last

    @staticmethod
    def _json(response: HttpResponse, what: str) -> dict[str, Any]:
        try:
            value = json.loads(response.body.decode("utf-8"))
        except (
            UnicodeDecodeError,
            ValueError,
            RecursionError,
        ):  # RecursionError: nested too deeply
            raise ApiError(None, f"{what}: not JSON") from None
        if not isinstance(value, dict):
            raise ApiError(None, f"{what}: not a JSON object")
        code = value.get("errcode", 0)
        if not isinstance(code, int):
            raise ApiError(None, f"{what}: malformed errcode")
        if code != 0:
            raise ApiError(code, what)
        if response.status >= 400:
            raise ApiError(None, f"{what}: HTTP {response.status}")
        return value

    # ------------------------------------------------------------------ the access token

    def access_token(self, *, force: bool = False) -> str:
        """A valid access token, from the cache unless ``force`` (after WeChat refused one)."""
        if not self.configured:
            raise ApiError(None, "the WeChat AppID or AppSecret is not set")
        key = (self.base, self.appid)
        with _TOKENS_LOCK:
            cached = _TOKENS.get(key)
            if cached is not None and not force and cached[1] - REFRESH_MARGIN > self._now():
                return cached[0]
        response = self._http(
            "POST",
            "/cgi-bin/stable_token",
            {},
            {
                "grant_type": "client_credential",
                "appid": self.appid,
                "secret": self._secret,
                "force_refresh": force,
            },
        )
        value = self._json(response, "stable_token")
        token = value.get("access_token")
        expires_in = value.get("expires_in")
        if not isinstance(token, str) or not token or not isinstance(expires_in, int):
            raise ApiError(None, "stable_token: no token in the answer")
        with _TOKENS_LOCK:
            _TOKENS[key] = (token, self._now() + expires_in)
        return token

    def _with_token(self, call: Callable[[str], HttpResponse]) -> HttpResponse:
        """``call(token)``; once more with a forced new token if WeChat refused the token."""
        response = call(self.access_token())
        if _token_refused(response):
            response = call(self.access_token(force=True))
        return response

    # ------------------------------------------------------------------ calls

    def download_media(self, media_id: str) -> Media:
        """A temporary medium (a reporter's photo) by MediaId: ``media/get``."""

        def call(token: str) -> HttpResponse:
            return self._http(
                "GET",
                "/cgi-bin/media/get",
                {"access_token": token, "media_id": media_id},
                limit=MAX_MEDIA,
            )

        response = self._with_token(call)
        if _is_json(response):
            self._json(response, "media/get")  # raises with the errcode
            raise ApiError(None, "media/get: JSON instead of a file")
        if response.status != 200 or not response.body:
            raise ApiError(None, f"media/get: HTTP {response.status}")
        return Media(response.content_type, response.body)

    def send_subscribe_message(
        self, openid: str, template_id: str, *, scene: int, title: str, content: str
    ) -> None:
        """A one-time subscription message (``message/template/subscribe``)."""
        body = {
            "touser": openid,
            "template_id": template_id,
            "scene": str(scene),
            "title": title[:15],
            "data": {"content": {"value": content[:200]}},
        }

        def call(token: str) -> HttpResponse:
            return self._http(
                "POST", "/cgi-bin/message/template/subscribe", {"access_token": token}, body
            )

        self._json(self._with_token(call), "template/subscribe")


def _is_json(response: HttpResponse) -> bool:
    return response.content_type in {"application/json", "text/plain", "text/json"}


def _token_refused(response: HttpResponse) -> bool:
    if not _is_json(response):
        return False
    try:
        value = json.loads(response.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False
    return isinstance(value, dict) and value.get("errcode") in TOKEN_ERRORS
