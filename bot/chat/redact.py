"""Secrets people paste into a chat, removed from the text before it is stored or logged.

A card number (13-19 digits, spaces or dashes allowed, valid by the Luhn check)
keeps only its last four digits; anything shaped like a JWT becomes a marker.
The channel redacts what a person types before Rasa sees it, and the tracker
store redacts again before writing (defence in depth).
"""

from __future__ import annotations

import re

_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}")
TOKEN_MARK = "[token removed]"


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _mask_card(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    if not 13 <= len(digits) <= 19 or not luhn_valid(digits):
        return match.group(0)
    return "•••• " + digits[-4:]


def redact(text: str) -> str:
    """`text` with card numbers masked and tokens removed."""
    if not text:
        return text
    return _CARD.sub(_mask_card, _JWT.sub(TOKEN_MARK, text))
