"""Secrets typed into a chat are masked before anything stores them."""

from __future__ import annotations

import pytest

from bot.chat.redact import TOKEN_MARK, redact


@pytest.mark.parametrize(
    "text,shown,hidden",
    [
        ("pay with 4111 1111 1111 1111 please", "•••• 1111", "4111 1111 1111"),
        ("card 4111-1111-1111-1111", "•••• 1111", "4111-1111"),
        ("5500005555555559", "•••• 5559", "550000"),
    ],
)
def test_card_numbers_keep_only_their_last_four_digits(text, shown, hidden):
    assert shown in redact(text) and hidden not in redact(text)


@pytest.mark.parametrize(
    "text",
    [
        "order 100000001",
        "request 1000000001",
        "invoice INV-10000003",
        "warranty for 7XK2M93",
        "4111 1111 1111 1112",  # not a card number: fails the Luhn check
        "call +1 512 555 0100",
    ],
)
def test_identifiers_and_other_numbers_are_left_alone(text):
    assert redact(text) == text


def test_a_pasted_token_is_removed():
    token = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIxIiwiYWNjdCI6MX0.c2lnbmF0dXJlLWJ5dGVz"
    assert redact(f"my token is {token}") == f"my token is {TOKEN_MARK}"
