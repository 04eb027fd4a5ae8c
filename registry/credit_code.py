"""The unified social credit code (统一社会信用代码, GB 32100-2015).

18 characters from a 31-symbol alphabet (the digits and the upper-case letters without I, O,
Z, S and V). The last one is a check character over the first 17:

    check = 31 − (Σ value(cᵢ) · 3ⁱ mod 31) mod 31,  with 31 written as "0",

the weights being 3⁰ … 3¹⁶ reduced mod 31 (1, 3, 9, 27, 19, 26, 16, …). Any single wrong
character changes the check value (31 is prime and no weight is 0), so a typo is caught here,
before the code is stored or matched on an import.

Input from a spreadsheet or a Chinese input method is forgiven what can be forgiven without
guessing: full-width characters (NFKC), lower case, spaces and hyphens. Letters outside the
alphabet are refused, not "corrected" (O is not quietly read as 0).
"""

from __future__ import annotations

import unicodedata

from core.errors import N_

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
LENGTH = 18
WEIGHTS = tuple(pow(3, i, 31) for i in range(LENGTH - 1))
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}


class CreditCodeError(ValueError):
    """Why a code is not valid; ``message`` is an English msgid, ``params`` its values."""

    def __init__(self, message: str, **params: object) -> None:
        super().__init__(message % params if params else message)
        self.message = message
        self.params = params


def normalise(text: str) -> str:
    """NFKC, upper case, without spaces and hyphens."""
    text = unicodedata.normalize("NFKC", text).upper()
    return "".join(ch for ch in text if not ch.isspace() and ch != "-")


def check_character(first17: str) -> str:
    """The check character for the first 17 characters (already normalised)."""
    if len(first17) != LENGTH - 1 or any(ch not in _VALUE for ch in first17):
        raise ValueError("17 characters of the credit-code alphabet expected")
    total = sum(_VALUE[ch] * w for ch, w in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def parse(text: str) -> str:
    """The normalised code, or :class:`CreditCodeError` saying what is wrong with it."""
    code = normalise(text)
    if len(code) != LENGTH:
        raise CreditCodeError(
            N_("A unified social credit code has %(length)s characters; this one has %(found)s."),
            length=LENGTH,
            found=len(code),
        )
    bad = sorted({ch for ch in code if ch not in _VALUE})
    if bad:
        raise CreditCodeError(
            N_(
                "A unified social credit code uses only digits and the letters A–Y without "
                "I, O, S, V and Z; this one contains %(chars)s."
            ),
            chars=" ".join(bad),
        )
    if check_character(code[:-1]) != code[-1]:
        raise CreditCodeError(
            N_(
                "The check character of this unified social credit code is wrong: check it "
                "against the certificate."
            )
        )
    return code


def is_valid(text: str) -> bool:
    try:
        parse(text)
    except CreditCodeError:
        return False
    return True
