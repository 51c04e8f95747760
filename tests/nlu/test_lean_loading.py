"""DIET loaded for answering only predicts exactly what Rasa's own loading does (issue 14).

`bot.nlu.lean_loading` skips the one-example training Rasa runs to build a saved model, which
held half the Rasa process's memory; the trained model is loaded both ways in this process
and asked the same messages in English and Spanish: intents, their whole ranking and the
entities must be the same.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Dict, List

from bot.nlu import lean_loading

MESSAGES = [
    "hi",
    "show my unpaid invoices",
    "muéstrame las facturas pendientes",
    "warranty for service tag 7XK2M93",
    "renew the contract of 7XK2M93 for 2 years with premium",
    "who has access to our portal?",
    "quiero cambiar mi dirección de envío",
    "reorder my last order",
    "teléfono de soporte para Corea",
    "asdkjh qwe zzz",
]


def parses(model: Path) -> List[Dict[str, Any]]:
    from rasa.core.agent import load_agent

    async def run() -> List[Dict[str, Any]]:
        agent = await load_agent(model_path=str(model))
        found = []
        for text in MESSAGES:
            parsed = await agent.parse_message(text)
            found.append(
                {
                    "intent": parsed["intent"],
                    "ranking": parsed["intent_ranking"],
                    "entities": [
                        (e["entity"], e.get("value"), e.get("start"), e.get("end"))
                        for e in parsed["entities"]
                    ],
                }
            )
        return found

    return asyncio.run(run())


def test_the_lean_load_predicts_exactly_what_rasas_own_load_does(trained_model):
    stock = parses(trained_model)
    lean_loading.install()
    try:
        lean = parses(trained_model)
    finally:
        lean_loading.uninstall()
    assert lean == stock
    assert stock[1]["intent"]["name"] != stock[-1]["intent"]["name"]  # real, varied answers
