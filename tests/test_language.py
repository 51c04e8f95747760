"""Which language a message is in: short Spanish requests are Spanish, names do not decide."""

from __future__ import annotations

import pytest

from bot.language import detect_language


@pytest.mark.parametrize(
    "text,language",
    [
        ("cámbiame a Acme", "es"),
        ("cambiame a Acme", "es"),
        ("cambia a Globex", "es"),
        ("muéstrame las facturas pendientes", "es"),
        ("¿en qué cuenta estoy?", "es"),
        ("switch to Acme", "en"),
        ("show devices of Globex México", "en"),
        ("show me a list of my orders", "en"),
        ("a", None),
        ("ok", None),
        ("7XK2M93", None),
    ],
)
def test_detect_language(text, language):
    assert detect_language(text) == language
