"""The OpenAPI 3.1 document of the public API, served at ``/api/v1/openapi.json``.

Built from the same constants the services check (lengths, limits, enum values), so the
document cannot drift from what the API accepts. ``tests/public_site/test_api_schema.py`` runs
schemathesis against it.
"""

from __future__ import annotations

from typing import Any

from intake.models import (
    CONCLUDED_STATES,
    MessageAuthor,
    NotAcceptedReason,
    Relationship,
    TipCategory,
)
from intake.services import DESCRIPTION_MAX, DESCRIPTION_MIN, SHORT_TEXT_MAX
from registry.models import FacilityStatus
from rewards.models import PaymentMethod
from rewards.services import ReporterRewardState
from rewards.services.claims import (
    ACCOUNT_DIGITS_MAX,
    ACCOUNT_DIGITS_MIN,
    ACCOUNT_NAME_MAX,
    BANK_MAX,
)
from triage.services import ReporterState
from triage.services.common import TEXT_MAX

_REF = "#/components/schemas/"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF + name}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": _ref("Error")}},
    }


def _errors(*statuses: int) -> dict[str, Any]:
    text = {
        400: "Malformed request (not JSON, or not parseable).",
        401: "Missing, ended or unknown bearer credential.",
        404: "No report matches the tracking token.",
        409: "Not possible in the report's current state (closed; objection window ended; "
        "no open reward offer).",
        413: "The request is larger than the service accepts.",
        415: "Wrong content type, or a file of a kind that is not accepted.",
        422: "A value is not acceptable; `fields` names it.",
        429: "Too many requests; see Retry-After.",
        503: "Reporting is not set up yet (no key groups or token parameters).",
    }
    out: dict[str, Any] = {}
    for status in statuses:
        response = _error(text[status])
        if status == 429:
            response["headers"] = {
                "Retry-After": {
                    "description": "Seconds to wait.",
                    "schema": {"type": "string"},
                }
            }
        if status == 401:
            response["headers"] = {
                "WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}
            }
        out[str(status)] = response
    return out


def _text(max_length: int, description: str) -> dict[str, Any]:
    return {"type": "string", "maxLength": max_length, "description": description}


def _date() -> dict[str, Any]:
    return {"type": ["string", "null"], "format": "date"}


def _nullable_text(description: str) -> dict[str, Any]:
    return {"type": ["string", "null"], "description": description}


def _outcome() -> dict[str, Any]:
    return {"type": ["string", "null"], "enum": [*sorted(s.value for s in CONCLUDED_STATES), None]}


#: The fields of the report's handling in ``GET /tip`` (``triage.services.ReporterStatus``).
STATUS_PROPERTIES: dict[str, Any] = {
    "state": {
        "type": "string",
        "enum": [s.value for s in ReporterState],
        "description": "The state in the reporter's terms.",
    },
    "deadline": {**_date(), "description": "Last day of the current step, if one is running."},
    "extension_days": {"type": ["integer", "null"]},
    "extension_reason": _nullable_text("Why the verification deadline was extended."),
    "decided_on": _date(),
    "not_accepted_reason": {
        "type": ["string", "null"],
        "enum": [*(r.value for r in NotAcceptedReason), None],
    },
    "transferred_to": _nullable_text("The authority the report was passed to."),
    "decision_text": _nullable_text("The officers' note on not accepting or passing on."),
    "outcome": _outcome(),
    "concluded_on": _date(),
    "conclusion_text": _nullable_text("The conclusion of the verification."),
    "objection_deadline": {**_date(), "description": "Last day to object to the conclusion."},
    "can_object": {"type": "boolean", "description": "POST /tip/objection is possible now."},
    "objected_on": _date(),
    "recheck_outcome": _outcome(),
    "rechecked_on": _date(),
    "recheck_conclusion_text": _nullable_text("The conclusion of the re-check."),
    "closed_on": _date(),
    "messages": {"type": "array", "items": {"$ref": "#/components/schemas/Message"}},
    "awaiting_reply": {"type": "boolean", "description": "An officer's question waits."},
    "already_handled": {
        "type": "boolean",
        "description": "The matter is already being handled under an earlier report.",
    },
    "reward": {"oneOf": [{"$ref": "#/components/schemas/Reward"}, {"type": "null"}]},
}


def _labels() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["zh_CN", "en"],
        "properties": {"zh_CN": {"type": "string"}, "en": {"type": "string"}},
    }


def _schemas() -> dict[str, Any]:
    division_ref = {
        "type": "object",
        "required": ["id", "name", "name_en"],
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "name_en": {"type": "string"},
        },
    }
    return {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message", "fields"],
                    "properties": {
                        "code": {"type": "string"},
                        "message": {"type": "string"},
                        "fields": {
                            "type": "object",
                            "additionalProperties": {"type": "string"},
                        },
                        "reference": {"type": "string"},
                    },
                }
            },
        },
        "TipInput": {
            "type": "object",
            "required": ["category", "division", "description"],
            "additionalProperties": False,
            "properties": {
                "category": {"type": "string", "enum": [c.value for c in TipCategory]},
                "division": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 2**31 - 1,
                    "description": "A division id from GET /meta.",
                },
                "location": _text(SHORT_TEXT_MAX, "Where exactly (encrypted)."),
                "facility_id": {
                    "type": ["integer", "null"],
                    "minimum": 1,
                    "maximum": 2**31 - 1,
                    "description": "A registered facility (GET /facilities); or give facility_name.",
                },
                "facility_name": _text(SHORT_TEXT_MAX, "The place's name when not registered."),
                "description": {
                    "type": "string",
                    "minLength": DESCRIPTION_MIN,
                    "maxLength": DESCRIPTION_MAX,
                    "description": "What the hazard is (encrypted).",
                },
                "observed_at": _text(SHORT_TEXT_MAX, "When it was seen, in the reporter's words."),
                "relationship": {
                    "type": ["string", "null"],
                    "enum": [*(r.value for r in Relationship), None],
                },
                "contact": _text(SHORT_TEXT_MAX, "Optional contact details (encrypted)."),
                "real_name": _text(SHORT_TEXT_MAX, "Optional real name; empty is anonymous."),
            },
        },
        "TipCreated": {
            "type": "object",
            "required": ["token", "status"],
            "properties": {
                "token": {
                    "type": "string",
                    "description": "The tracking token, shown once: store it, it is never sent again.",
                },
                "status": {"type": "string", "const": "submitted"},
            },
        },
        "SessionInput": {
            "type": "object",
            "required": ["token"],
            "additionalProperties": False,
            "properties": {"token": {"type": "string", "maxLength": 100}},
        },
        "SessionCreated": {
            "type": "object",
            "required": ["access_token", "token_type", "expires_in"],
            "properties": {
                "access_token": {"type": "string"},
                "token_type": {"type": "string", "const": "Bearer"},
                "expires_in": {
                    "type": "integer",
                    "description": "Seconds without a request after which it ends.",
                },
            },
        },
        "Facility": {
            "type": "object",
            "required": ["id", "name", "address", "division", "type", "status"],
            "properties": {
                "id": {"type": "integer"},
                "name": {"type": "string"},
                "address": {"type": "string"},
                "division": division_ref,
                "type": {
                    "type": "string",
                    "description": "Code of the facility type (types are data in the registry).",
                },
                "status": {"type": "string", "enum": [s.value for s in FacilityStatus]},
            },
        },
        "Attachment": {
            "type": "object",
            "required": ["name", "content_type", "size", "scrubbed"],
            "properties": {
                "name": {"type": "string"},
                "content_type": {"type": "string"},
                "size": {"type": "integer"},
                "scrubbed": {"type": "boolean"},
            },
        },
        "Tip": {
            "type": "object",
            "required": [
                "status",
                "status_label",
                "submitted_at",
                "category",
                "division",
                "facility",
                "description",
                "attachments",
                "state",
                "state_label",
                *STATUS_PROPERTIES,
            ],
            "properties": {
                "status": {"type": "string"},
                "status_label": _labels(),
                "submitted_at": {
                    "type": "string",
                    "format": "date-time",
                    "description": "UTC, rounded down to the hour.",
                },
                "category": {"type": "string", "enum": [c.value for c in TipCategory]},
                "division": division_ref,
                "facility": {"oneOf": [_ref("Facility"), {"type": "null"}]},
                "facility_name": {"type": "string"},
                "description": {"type": "string"},
                "location": {"type": "string"},
                "observed_at": {"type": "string"},
                "relationship": {"type": ["string", "null"]},
                "contact": {"type": "string"},
                "real_name": {"type": "string"},
                "attachments": {"type": "array", "items": _ref("Attachment")},
                "state_label": _labels(),
                "outcome_label": {"oneOf": [_labels(), {"type": "null"}]},
                **STATUS_PROPERTIES,
            },
        },
        "Message": {
            "type": "object",
            "required": ["seq", "author", "on", "body"],
            "properties": {
                "seq": {"type": "integer"},
                "author": {"type": "string", "enum": [a.value for a in MessageAuthor]},
                "on": {"type": "string", "format": "date"},
                "body": {"type": "string", "description": "Plain text: escape it to show it."},
            },
        },
        "MessageInput": {
            "type": "object",
            "required": ["body"],
            "additionalProperties": False,
            "properties": {"body": _text(TEXT_MAX, "The message (encrypted).") | {"minLength": 1}},
        },
        "Reward": {
            "type": "object",
            "description": "The reward of the report, as its reporter sees it.",
            "required": [
                "state",
                "amount_fen",
                "offered_on",
                "claim_deadline",
                "days_left",
                "remind",
                "can_claim",
                "claimed_on",
                "payment_method",
                "paid_on",
                "ended_on",
            ],
            "properties": {
                "state": {"type": "string", "enum": [s.value for s in ReporterRewardState]},
                "amount_fen": {
                    "type": ["integer", "null"],
                    "description": "In fen (1/100 yuan); shown from the offer on.",
                },
                "offered_on": _date(),
                "claim_deadline": {**_date(), "description": "Last day to claim."},
                "days_left": {"type": ["integer", "null"], "description": "While offered."},
                "remind": {"type": "boolean", "description": "The claim deadline is near."},
                "can_claim": {
                    "type": "boolean",
                    "description": "POST /reward/claim and /reward/decline are possible now.",
                },
                "claimed_on": _date(),
                "payment_method": {
                    "type": ["string", "null"],
                    "enum": [*(m.value for m in PaymentMethod), None],
                },
                "paid_on": _date(),
                "ended_on": {**_date(), "description": "Declined or expired on."},
            },
        },
        "ClaimInput": {
            "type": "object",
            "required": ["token", "method"],
            "additionalProperties": False,
            "properties": {
                "token": {"type": "string", "description": "The tracking token, typed again."},
                "method": {"type": "string", "enum": [m.value for m in PaymentMethod]},
                "account_name": _text(ACCOUNT_NAME_MAX, "Bank transfer: the account holder."),
                "bank": _text(BANK_MAX, "Bank transfer: the bank and branch."),
                "account_number": {
                    "type": "string",
                    "maxLength": 60,
                    "description": f"Bank transfer: {ACCOUNT_DIGITS_MIN} to "
                    f"{ACCOUNT_DIGITS_MAX} digits (spaces and dashes allowed).",
                },
            },
        },
        "ClaimReceipt": {
            "type": "object",
            "required": ["method", "claim_code"],
            "properties": {
                "method": {"type": "string", "enum": [m.value for m in PaymentMethod]},
                "claim_code": {
                    "type": ["string", "null"],
                    "description": "Collection in person: the code to show at the bureau. "
                    "Shown once; it cannot be retrieved later.",
                },
            },
        },
        "DeclineInput": {
            "type": "object",
            "required": ["token"],
            "additionalProperties": False,
            "properties": {
                "token": {"type": "string", "description": "The tracking token, typed again."}
            },
        },
        "ObjectionInput": {
            "type": "object",
            "required": ["reason"],
            "additionalProperties": False,
            "properties": {
                "reason": _text(TEXT_MAX, "Why the conclusion is wrong (encrypted).")
                | {"minLength": 1}
            },
        },
        "Meta": {
            "type": "object",
            "required": ["categories", "relationships", "divisions", "limits"],
            "properties": {
                "categories": {"type": "array", "items": _ref("Choice")},
                "relationships": {"type": "array", "items": _ref("Choice")},
                "divisions": {"type": "array", "items": division_ref},
                "limits": {"type": "object", "additionalProperties": True},
            },
        },
        "Choice": {
            "type": "object",
            "required": ["value", "label"],
            "properties": {"value": {"type": "string"}, "label": _labels()},
        },
    }


def document() -> dict[str, Any]:
    json_body = {"application/json": {"schema": _ref("TipInput")}}
    multipart = {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["tip"],
                "properties": {
                    "tip": _ref("TipInput"),
                    "files": {
                        "type": "array",
                        "maxItems": 10,
                        "items": {"type": "string", "contentMediaType": "application/octet-stream"},
                    },
                },
            },
            "encoding": {"tip": {"contentType": "application/json"}},
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Qingling public API",
            "version": "1",
            "description": (
                "Anonymous hazard reports for a mini-program or H5 page. No cookies: calls are "
                "anonymous or carry the bearer credential from POST /session. Times are UTC."
            ),
        },
        "servers": [{"url": "/api/v1"}],
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {"reporter": {"type": "http", "scheme": "bearer"}},
        },
        "paths": {
            "/tips": {
                "post": {
                    "operationId": "createTip",
                    "summary": "File a report (JSON, or multipart with a JSON part `tip` and files)",
                    "requestBody": {"required": True, "content": {**json_body, **multipart}},
                    "responses": {
                        "201": {
                            "description": "Stored. Show the token once.",
                            "content": {"application/json": {"schema": _ref("TipCreated")}},
                        },
                        **_errors(400, 413, 415, 422, 429, 503),
                    },
                }
            },
            "/session": {
                "post": {
                    "operationId": "createSession",
                    "summary": "Exchange a tracking token for a short-lived bearer credential",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("SessionInput")}},
                    },
                    "responses": {
                        "201": {
                            "description": "A reporter session.",
                            "content": {"application/json": {"schema": _ref("SessionCreated")}},
                        },
                        **_errors(400, 404, 413, 415, 422, 429, 503),
                    },
                }
            },
            "/tip": {
                "get": {
                    "operationId": "getTip",
                    "summary": "The report of the bearer credential: content, handling, messages",
                    "security": [{"reporter": []}],
                    "responses": {
                        "200": {
                            "description": "The report.",
                            "content": {"application/json": {"schema": _ref("Tip")}},
                        },
                        **_errors(401, 429),
                    },
                }
            },
            "/tip/messages": {
                "post": {
                    "operationId": "sendMessage",
                    "summary": "Send a message to the officers (an answer, or more information)",
                    "security": [{"reporter": []}],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("MessageInput")}},
                    },
                    "responses": {
                        "201": {
                            "description": "Sent. The report, as GET /tip now shows it.",
                            "headers": {
                                "Location": {
                                    "description": "/api/v1/tip",
                                    "schema": {"type": "string"},
                                }
                            },
                            "content": {"application/json": {"schema": _ref("Tip")}},
                        },
                        **_errors(400, 401, 409, 413, 415, 422, 429),
                    },
                }
            },
            "/tip/objection": {
                "post": {
                    "operationId": "objectToConclusion",
                    "summary": "Object to the conclusion, once, until the objection deadline",
                    "security": [{"reporter": []}],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("ObjectionInput")}},
                    },
                    "responses": {
                        "204": {"description": "Received; the report is checked again."},
                        **_errors(400, 401, 409, 413, 415, 422, 429),
                    },
                }
            },
            "/reward/claim": {
                "post": {
                    "operationId": "claimReward",
                    "summary": "Claim the offered reward (payment details sealed to finance only)",
                    "security": [{"reporter": []}],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("ClaimInput")}},
                    },
                    "responses": {
                        "201": {
                            "description": "Claimed.",
                            "content": {"application/json": {"schema": _ref("ClaimReceipt")}},
                        },
                        **_errors(400, 401, 404, 409, 413, 415, 422, 429, 503),
                    },
                }
            },
            "/reward/decline": {
                "post": {
                    "operationId": "declineReward",
                    "summary": "Decline the offered reward (final)",
                    "security": [{"reporter": []}],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("DeclineInput")}},
                    },
                    "responses": {
                        "204": {"description": "Declined."},
                        **_errors(400, 401, 404, 409, 413, 415, 422, 429),
                    },
                }
            },
            "/meta": {
                "get": {
                    "operationId": "getMeta",
                    "summary": "Categories, divisions and limits",
                    "responses": {
                        "200": {
                            "description": "What a client needs to build the form.",
                            "content": {"application/json": {"schema": _ref("Meta")}},
                        },
                        **_errors(429),
                    },
                }
            },
            "/facilities": {
                "get": {
                    "operationId": "searchFacilities",
                    "summary": "Registered facilities by name or address",
                    "parameters": [
                        {
                            "name": "q",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string", "maxLength": 100},
                            "description": "Words of the name or address (not logged).",
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "At most 20 facilities.",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["facilities"],
                                        "properties": {
                                            "facilities": {
                                                "type": "array",
                                                "items": _ref("Facility"),
                                            }
                                        },
                                    }
                                }
                            },
                        },
                        **_errors(429),
                    },
                }
            },
        },
    }
