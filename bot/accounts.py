"""Which of a person's accounts a name means: one rule for the switch endpoint, the demo token
command and the chat (a switch, or an account named in a request).

People write account names loosely: any case, without accents, only the first word, a customer
number. A name means an account when it matches exactly, else when it is the start of exactly
one account's name. Two candidates are no answer: the caller asks which one.
"""

from __future__ import annotations

import unicodedata
from typing import Callable, Optional, Sequence, TypeVar

T = TypeVar("T")


def fold(text: str) -> str:
    """'  Globex  MÉXICO ' -> 'globex mexico': how names are compared."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


def choose_account(
    wanted: str,
    options: Sequence[T],
    name: Callable[[T], str],
    number: Callable[[T], str] = lambda _: "",
) -> Optional[T]:
    """The one option `wanted` names, or None (no match, or more than one).

    Args:
        wanted: what the person typed.
        options: the person's own accounts (never anybody else's).
        name: an option's account name.
        number: an option's customer number, when known.
    """
    key = fold(wanted)
    if not key:
        return None
    exact = [o for o in options if key in (fold(name(o)), fold(number(o)))]
    if len(exact) == 1:
        return exact[0]
    prefix = [o for o in options if fold(name(o)).startswith(key)]
    return prefix[0] if len(prefix) == 1 and not exact else None


def choose_membership(wanted: str, memberships: Sequence[T]) -> Optional[T]:
    """`choose_account` over memberships (`.account.name`, `.account.customer_number`)."""
    return choose_account(
        wanted,
        memberships,
        name=lambda ms: ms.account.name,  # type: ignore[attr-defined]
        number=lambda ms: ms.account.customer_number,  # type: ignore[attr-defined]
    )
