"""Password strength rules and the passphrases the server offers.

The rules are deliberately simple and explained to the user in one sentence each: at least 12
characters, at least two kinds of character, not built from the user name, not a well-known
password and not a repetition or a keyboard run. A generated passphrase is six random words from
:data:`core.accounts.wordlist.WORDS` and a three-digit number, from ``secrets``: about 72 bits.
"""

from __future__ import annotations

import math
import secrets
import unicodedata

from core.accounts.wordlist import WORDS
from core.errors import N_

MIN_LENGTH = 12
MAX_LENGTH = 256
PASSPHRASE_WORDS = 6
PASSPHRASE_DIGITS = 3

# Well-known passwords and their obvious variants are compared after removing everything but
# letters, with digits and punctuation stripped, case-folded. A short list: the length and
# class rules already exclude most of a longer one.
_COMMON = """
    password passwort passw passwd pass admin administrator root qwerty qwertyuiop asdf
    asdfghjkl zxcvbnm letmein welcome iloveyou monkey dragon master login abc abcd abcdef
    abcdefg sunshine princess football baseball superman batman trustno shadow michael
    charlie jennifer hello freedom whatever starwars computer internet secret changeme
    default guest test testing user staff office china beijing shanghai suzhou zhangjiagang
    qingling woaini aini nihao wang zhang huang yang zhao
"""
COMMON = frozenset(_COMMON.split())

# Rows and runs people type as "random": a password that is a piece of one is refused.
_RUNS = (
    "0123456789",
    "abcdefghijklmnopqrstuvwxyz",
    "qwertyuiopasdfghjklzxcvbnm",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
)


def entropy_bits() -> float:
    """Entropy of a generated passphrase, in bits."""
    return PASSPHRASE_WORDS * math.log2(len(WORDS)) + PASSPHRASE_DIGITS * math.log2(10)


def generate_passphrase() -> str:
    """Six random words and a number, joined by dashes: ``maple-orbit-…-417``."""
    words = [secrets.choice(WORDS) for _ in range(PASSPHRASE_WORDS)]
    number = "".join(secrets.choice("0123456789") for _ in range(PASSPHRASE_DIGITS))
    return "-".join([*words, number])


def _classes(password: str) -> int:
    kinds = set()
    for ch in password:
        if ch.isdigit():
            kinds.add("digit")
        elif ch.isalpha():
            kinds.add("upper" if ch.isupper() else "letter")
        else:
            kinds.add("other")
    return len(kinds)


def _is_repetition(text: str) -> bool:
    """Made of one short piece repeated (``abcabcabcabc``) or of very few distinct characters."""
    if len(set(text)) < 5:
        return True
    for size in range(1, len(text) // 2 + 1):
        if len(text) % size == 0 and text[:size] * (len(text) // size) == text:
            return True
    return False


def _in_run(piece: str) -> bool:
    return any(piece in run or piece in run[::-1] for run in _RUNS)


def _is_run(text: str) -> bool:
    """Made of at most three pieces of keyboard rows or alphabet runs (``1234567890ab``)."""
    pieces, start = 0, 0
    while start < len(text):
        end = start + 1
        while end < len(text) and _in_run(text[start : end + 1]):
            end += 1
        pieces += 1
        start = end
    return pieces <= 3


_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
)


def _built_on_names(folded: str, username: str, display_name: str) -> bool:
    """Contains the user name or the whole name, or is little more than parts of the name."""
    user = username.casefold()
    whole = "".join(display_name.split()).casefold()
    if (len(user) >= 4 and user in folded) or (len(whole) >= 4 and whole in folded):
        return True
    rest = folded
    for part in (user, *display_name.casefold().split()):
        if len(part) >= 3:
            rest = rest.replace(part, "")
    return len("".join(ch for ch in rest if ch.isalnum())) < MIN_LENGTH - 4


def password_problems(password: str, *, username: str = "", display_name: str = "") -> list[str]:
    """Why ``password`` is not acceptable, as English msgids; empty when it is."""
    problems: list[str] = []
    if len(password) < MIN_LENGTH:
        problems.append(N_("Use at least 12 characters."))
    if len(password) > MAX_LENGTH:
        problems.append(N_("Use at most 256 characters."))
    if _classes(password) < 2:
        problems.append(
            N_(
                "Mix at least two kinds of characters: lower-case letters, capitals, digits, "
                "spaces or punctuation."
            )
        )
    folded = unicodedata.normalize("NFKC", password).casefold()
    compact = "".join(ch for ch in folded if ch.isalnum())
    letters = "".join(ch for ch in compact if ch.isalpha())
    # "P@ssw0rd" is "password": undo the usual substitutions, then drop what is not a letter.
    unleet = "".join(
        ch for ch in folded.rstrip("0123456789!?.#*@$ ").translate(_LEET) if ch.isalpha()
    )
    if _built_on_names(folded, username, display_name):
        problems.append(N_("Do not use your user name or your name in the password."))
    if (
        compact in COMMON
        or letters in COMMON
        or unleet in COMMON
        or (len(letters) < 4 and compact.isdigit())
    ):
        problems.append(N_("This password is too common. Choose another or use the suggestion."))
    elif _is_repetition(compact or folded) or _is_run(compact):
        problems.append(
            N_(
                "Do not use repeated characters, repeated patterns or runs such as 123456 or qwerty."
            )
        )
    return problems
