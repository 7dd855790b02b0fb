"""ISIN helpers (ISO 6166).

An ISIN is 2 letters (country), 9 alphanumeric characters (the national security
identifier, NSIN) and one check digit.  The check digit is the Luhn mod-10 digit computed
over the *digit expansion* of the first 11 characters: each letter becomes two digits
(A=10 ... Z=35), digits stay as they are.

No Django here: stdlib only.
"""

from __future__ import annotations

import string

__all__ = ["is_valid_isin", "isin_check_digit", "make_isin"]

_ALNUM = frozenset(string.ascii_uppercase + string.digits)
_LETTERS = frozenset(string.ascii_uppercase)


def _expand(body: str) -> str:
    """Digit expansion: '0'-'9' unchanged, 'A'..'Z' -> '10'..'35'."""
    out: list[str] = []
    for ch in body:
        if ch.isdigit():
            out.append(ch)
        elif ch in _LETTERS:
            out.append(str(ord(ch) - ord("A") + 10))
        else:
            raise ValueError(f"body11: invalid ISIN character {ch!r}")
    return "".join(out)


def isin_check_digit(body11: str) -> str:
    """Return the ISO 6166 check digit (one char '0'-'9') for the first 11 characters.

    Luhn: from the rightmost digit of the expansion, double every other digit (starting
    with the rightmost), sum the digits of the results, check = (10 - sum % 10) % 10.
    """
    if not isinstance(body11, str) or len(body11) != 11:
        raise ValueError("body11: expected 11 characters")
    body = body11.upper()
    digits = _expand(body)
    total = 0
    for pos, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if pos % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def is_valid_isin(s: str) -> bool:
    """True when `s` is 12 upper-case chars: 2 letters, 9 alphanumerics, a correct check digit."""
    if not isinstance(s, str) or len(s) != 12:
        return False
    if not (s[0] in _LETTERS and s[1] in _LETTERS):
        return False
    if any(ch not in _ALNUM for ch in s[2:11]):
        return False
    if not s[11].isdigit():
        return False
    return isin_check_digit(s[:11]) == s[11]


def make_isin(country: str, nsin9: str) -> str:
    """Build a valid ISIN from a 2-letter country code and a 9-character NSIN."""
    if not isinstance(country, str) or len(country) != 2 or any(c not in _LETTERS for c in country):
        raise ValueError("country: expected 2 upper-case letters")
    if not isinstance(nsin9, str) or len(nsin9) != 9 or any(c not in _ALNUM for c in nsin9):
        raise ValueError("nsin9: expected 9 upper-case alphanumeric characters")
    body = country + nsin9
    return body + isin_check_digit(body)
