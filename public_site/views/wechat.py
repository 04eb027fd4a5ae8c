"""The WeChat Official Account's server URL, ``/wechat`` (docs/wechat.md).

* ``GET /wechat``: URL verification; the ``echostr`` comes back as text when ``signature``
  (and the timestamp) check.
* ``POST /wechat``: a push. Checked, decrypted and answered by ``intake.wechat`` (protocol and
  conversation); the reply is encrypted when the push was (safe and compatible mode).
  Plaintext pushes are accepted only with ``QINGLING_WECHAT_SANDBOX`` (Tencent's test
  account), and the site logs a warning when it starts so configured.
* ``GET /wechat/subscribed``: where WeChat sends a reporter back from the consent page of a
  one-time notification.

Every refusal is an empty 4xx (404 while ``QINGLING_WECHAT_TOKEN`` is empty, 403 for a bad
signature, timestamp or AppID, 400 for malformed XML or ciphertext, 413 past 64 KiB), never a
page with detail and never a 500: WeChat would retry it, and the user would see "this account
cannot serve you now". A push that fails inside is answered with a short apology in the chat.

Privacy: the query string of a push carries the sender's OpenID (``openid``); it is never read
here, and the request log of ``qingling serve`` names the route only (``core.logs``). Rate
limits for WeChat are per sender (a daily-keyed HMAC of the sender index, never the OpenID), not
per address: every push comes from Tencent's few addresses, so the site's default per-address
limit does not apply to this blueprint.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import cast

from flask import Blueprint, Flask, Response, current_app, render_template, request, url_for
from flask.blueprints import BlueprintSetupState
from limits import parse_many
from sqlalchemy.exc import OperationalError

from core.errors import N_, DomainError
from core.settings import Settings
from core.web import clock, db_session, rollback_request, settings_of
from crypto.wechat import BadAESKey, MessageCrypto
from intake.wechat import notifications, protocol, texts
from intake.wechat.conversation import Links, handle_push
from public_site.limits import (
    SUBMISSIONS,
    TOKEN_ENTRIES,
    TOKEN_ENTRIES_OVERALL,
    RouteLimit,
    anonymous_key,
    limiter_of,
)

bp = Blueprint("wechat", __name__, url_prefix="/wechat")

log = logging.getLogger(__name__)

#: Messages from one sender (anything beyond is not a person typing).
SENDER_MESSAGES = "30 per minute;300 per hour"
#: Limits of the conversation's actions, per sender unless marked overall.
LIMITS: dict[str, tuple[RouteLimit, ...]] = {
    "message": (RouteLimit(SENDER_MESSAGES),),
    "token": (RouteLimit(TOKEN_ENTRIES), RouteLimit(TOKEN_ENTRIES_OVERALL, overall=True)),
    "submit": (RouteLimit(SUBMISSIONS),),
}
#: WeChat waits five seconds for an answer; past this a slow reply is logged (it is sent all
#: the same, and a retry gets it from the cache).
BUDGET_SECONDS = 4.0


@bp.record_once
def _on_register(state: BlueprintSetupState) -> None:
    app = cast(Flask, state.app)
    settings = settings_of(app)
    limiter = limiter_of(app)
    for view in (verify, push):
        limiter.exempt(view)
    if not settings.wechat_token:
        return
    if settings.wechat_sandbox:
        log.warning(
            "WeChat sandbox mode: plaintext pushes are accepted at /wechat. This is for "
            "Tencent's test account only; never set QINGLING_WECHAT_SANDBOX for a real account."
        )
    if not settings.wechat_encoding_aes_key and not settings.wechat_sandbox:
        log.warning(
            "QINGLING_WECHAT_TOKEN is set but QINGLING_WECHAT_ENCODING_AES_KEY is not: every "
            "push to /wechat will be refused (safe mode is required)."
        )
    if not (settings.wechat_appid and settings.wechat_appsecret):
        log.warning(
            "QINGLING_WECHAT_APPID or QINGLING_WECHAT_APPSECRET is not set: photos sent over "
            "WeChat cannot be downloaded."
        )


def _channel(settings: Settings) -> protocol.Channel | None:
    if not settings.wechat_token:
        return None
    crypto = None
    if settings.wechat_encoding_aes_key and settings.wechat_appid:
        try:
            crypto = MessageCrypto.from_settings(
                settings.wechat_token, settings.wechat_encoding_aes_key, settings.wechat_appid
            )
        except BadAESKey:
            crypto = None
    return protocol.Channel(settings.wechat_token, crypto, settings.wechat_sandbox)


def _empty(status: int) -> Response:
    return Response(b"", status=status, mimetype="text/plain")


def _unix() -> int:
    return int(clock().now().timestamp())


class _Gate:
    """Per-sender limits in the site's limiter storage (memory or Redis), keyed by an HMAC of
    the sender index under a key that changes daily (as addresses are, ``public_site.limits``)."""

    def __init__(self, settings: Settings) -> None:
        self._limiter = limiter_of(current_app)
        self._secret = settings.ratelimit_key
        self._today = dt.datetime.now(dt.UTC).date()

    def allow(self, action: str, sender: bytes) -> bool:
        if not self._limiter.enabled:
            return True
        key = anonymous_key(self._secret, sender.hex(), self._today)
        try:
            for item in LIMITS[action]:
                ident = "all" if item.overall else key
                for limit in parse_many(item.limit):
                    if not self._limiter.limiter.hit(limit, "wechat", action, ident):
                        return False
        except Exception:  # the storage is down: fail open, as the site's limiter does
            return True
        return True


def _links(settings: Settings) -> Links:
    scheme = "https" if settings.secure_cookies else request.scheme
    return Links(
        report_url=url_for("tips.new", _external=True, _scheme=scheme),
        status_url=url_for("reporter.entry", _external=True, _scheme=scheme),
        consent_url=url_for("wechat.subscribed", _external=True, _scheme=scheme),
    )


@bp.get("")
def verify() -> Response:
    """URL verification: the ``echostr`` back if ``signature`` checks."""
    channel = _channel(settings_of())
    if channel is None:
        return _empty(404)
    try:
        echostr = protocol.verify_url(channel, request.args, now=_unix())
    except protocol.Rejected as exc:
        return _empty(exc.status)
    return Response(echostr, mimetype="text/plain")


@bp.post("")
def push() -> Response:
    started = time.monotonic()
    settings = settings_of()
    channel = _channel(settings)
    if channel is None:
        return _empty(404)
    if (request.content_length or 0) > protocol.MAX_BODY:
        return _empty(413)
    body = request.stream.read(protocol.MAX_BODY + 1)
    if len(body) > protocol.MAX_BODY:
        return _empty(413)
    now = _unix()
    try:
        opened = protocol.open_push(channel, request.args, body, now=now)
    except protocol.Rejected as exc:
        return _empty(exc.status)
    reply = _reply(settings, opened.message)
    if time.monotonic() - started > BUDGET_SECONDS:
        log.warning("a WeChat push took %.1f s to answer", time.monotonic() - started)
    if reply is None:
        return Response(b"success", mimetype="text/plain")
    xml = protocol.text_reply(opened.message, reply, now=now)
    if opened.encrypted and channel.crypto is not None:
        nonce = request.args.get("nonce", "")
        xml = protocol.sealed_reply(channel.crypto, xml, nonce, now=now)
    return Response(xml, mimetype="application/xml")


def _reply(settings: Settings, message: protocol.Message) -> str | None:
    """The conversation's reply; a short apology (not cached) when it fails inside."""
    lang = texts.language(settings.default_locale)
    try:
        return handle_push(
            db_session(),
            clock(),
            settings,
            message,
            links=_links(settings),
            gate=_Gate(settings),
        )
    except OperationalError:
        # A lock not obtained in time (a retry behind a slow first delivery), or the database
        # away: nothing was kept, the person can send again.
        rollback_request()
        log.warning("a WeChat push could not be answered: the database was busy")
        return texts.translate(lang, N_("The service is busy. Please send your message again."))
    except DomainError as exc:
        rollback_request()
        log.warning("a WeChat push could not be answered: %s", type(exc).__name__)
        return texts.translate(
            lang, N_("Reporting is not available right now. Please try again later.")
        )
    except Exception as exc:
        rollback_request()
        # The type only: a message could carry what the reporter wrote.
        log.error("a WeChat push failed: %s", type(exc).__name__)
        return texts.translate(
            lang, N_("Something went wrong and nothing was saved. Please try again.")
        )


@bp.get("/subscribed")
def subscribed() -> tuple[str, int] | Response:
    """WeChat's redirect after the one-time notification consent page."""
    settings = settings_of()
    if not settings.wechat_token:
        return _empty(404)
    args = request.args
    outcome = notifications.confirm(
        db_session(),
        clock(),
        settings,
        notifications.Consent(
            reserved=args.get("reserved", ""),
            openid=args.get("openid", ""),
            action=args.get("action", ""),
            scene=args.get("scene", ""),
            template_id=args.get("template_id", ""),
        ),
    )
    status = 400 if outcome is notifications.ConsentOutcome.INVALID else 200
    return render_template("public_site/wechat/subscribed.html", outcome=outcome.value), status
