"""Which language a message is in (English or Spanish), and how to show values in it.

Detection is a small, explainable word-list score: the assistant only has to
tell its two languages apart, and a message with no telling words (an id, "ok",
"no") keeps the current language instead of guessing.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Optional

from babel.dates import format_date
from babel.numbers import format_currency

SUPPORTED = ("en", "es")
LOCALES = {"en": "en_US", "es": "es_MX"}

_SPANISH = frozenset(
    """
    el la los las lo un una unos unas de del al que qué quien quién por para con sin mi mis
    tu tus su sus me te se nos es son está están estoy hay muestra muéstrame muestrame
    mostrar ver quiero quisiera necesito puedes podrías podrias dame dime cuál cuáles cual
    cuales cómo como dónde donde cuándo cuando cuánto cuanto hola buenas buenos días dias
    tardes gracias adiós adios ayuda sí factura facturas pedido pedidos orden órdenes
    ordenes garantía garantia cuenta cuentas usuario usuarios contrato contratos
    suscripciones informe informes reporte reportes pendientes pagadas vencidas todas pagar
    renovar mejorar abrir caso solicitud soporte equipo dispositivos etiqueta servicio
    dirección direcciones perfil tarjeta tarjetas cotizaciones presupuestos documentos
    cambiar rol invitar desactivar volver pedir último ultimo última ultima estado años año
    meses mes también tambien pero porque y o ni muy más mas hablar persona agente humano
    cancela cancelar olvídalo olvidalo vale claro perfecto cámbiame cambiame cambia cámbiate
    cambiate pásame pasame llévame llevame enséñame enseñame lista listar abre paga renueva
    """.split()  # noqa: SIM905 - a word list reads better as text
)
_ENGLISH = frozenset(
    """
    the an of for to in on at with without my your our their is are was be am i you we it
    show me what which who how where when please can could would want need give tell list
    see hello hi hey thanks thank bye goodbye help yes yeah invoice invoices order orders
    warranty account accounts user users contract contracts subscriptions report reports
    unpaid paid overdue all pay renew upgrade open case request support team devices device
    tag service address addresses profile card cards quotes documents change role invite
    deactivate again last latest status years year months month also but because and or very
    more talk person agent human cancel stop never mind okay sure great do does did my get
    """.split()  # noqa: SIM905 - a word list reads better as text
)
_WORD = re.compile(r"[a-záéíóúüñ]+", re.IGNORECASE)


def detect_language(text: str) -> Optional[str]:
    """'es', 'en', or None when the message does not tell (ids, 'ok', 'no', emoji)."""
    if not text:
        return None
    lowered = text.lower()
    words = _WORD.findall(lowered)
    spanish = sum(1 for w in words if w in _SPANISH)
    english = sum(1 for w in words if w in _ENGLISH)
    if "¿" in text or "¡" in text or "ñ" in lowered:
        spanish += 2
    # An accented vowel is Spanish evidence too (English words have none), one per word.
    spanish += sum(1 for w in words if w not in _SPANISH and any(c in w for c in "áéíóú"))
    if spanish > english:
        return "es"
    if english > spanish:
        return "en"
    return None


def money(cents: int, currency: str, language: str) -> str:
    """'$1,249.00' / '$1,249.00 MXN'-style amounts in the person's language."""
    locale = LOCALES.get(language, "en_US")
    return format_currency(cents / 100, currency, locale=locale)


def day(value: dt.date, language: str) -> str:
    """'Dec 12, 2026' / '12 dic 2026'."""
    return format_date(value, format="medium", locale=LOCALES.get(language, "en_US"))
