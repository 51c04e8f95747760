"""Rasa's graphs run in the kept order answer exactly what dask's runs answer.

The assistant's trained model is loaded once; the same messages go through it with Rasa's
dask runner and with `bot.chat.graph_order`: the NLU's whole parse, and every event of the
conversations they make (the policies' predictions, with their confidences).
"""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List

import pytest
from rasa.core.agent import Agent, load_agent
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.engine.exceptions import GraphRunError

from bot.chat import graph_order

MESSAGES = [
    "hi",
    "show my unpaid invoices",
    "muéstrame las facturas pendientes",
    "warranty for service tag 7XK2M93",
    "renew the contract of 7XK2M93 for 2 years with premium",
    "yes",
    "who has access to our portal?",
    "quiero cambiar mi dirección de envío",
    "cancel",
    "teléfono de soporte para Corea",
    "asdkjh qwe zzz",
    "are you a bot?",
    "bye",
]


@pytest.fixture(scope="module")
def agent(trained_model) -> Agent:
    return asyncio.run(load_agent(model_path=str(trained_model)))


def without_ids(event: Dict[str, Any]) -> Dict[str, Any]:
    """An event as a dict, without what differs between two runs (time, message ids)."""
    kept = {k: v for k, v in event.items() if k not in ("timestamp", "message_id")}
    if "parse_data" in kept:
        kept["parse_data"] = {k: v for k, v in kept["parse_data"].items() if k != "message_id"}
    return kept


def rasas_targets(agent: Agent) -> List[str]:
    """What Rasa's processor asks its graph for: the NLU's and the policies' outputs."""
    metadata = agent.processor.model_metadata
    return [metadata.nlu_target, metadata.core_target]


def both_ways(run: Any) -> List[Any]:
    """What `run()` answers with dask, then in the kept order."""
    graph_order.uninstall()
    first = run()
    graph_order.install()
    try:
        second = run()
    finally:
        graph_order.uninstall()
    return [first, second]


def test_every_parse_is_dasks(agent):
    def parses() -> List[Dict[str, Any]]:
        return [asyncio.run(agent.parse_message(text)) for text in MESSAGES]

    dask, ordered = both_ways(parses)
    assert ordered == dask
    assert len({parse["intent"]["name"] for parse in dask}) > 8  # real, varied answers


def test_a_conversation_has_the_same_events(agent):
    count = iter(range(100))

    def conversation() -> List[Any]:
        sender = f"someone-{next(count)}"
        for text in MESSAGES:
            asyncio.run(agent.handle_message(UserMessage(text, CollectingOutputChannel(), sender)))
        tracker = asyncio.run(agent.tracker_store.retrieve(sender))
        return [without_ids(event.as_dict()) for event in tracker.events]

    dask, ordered = both_ways(conversation)
    assert ordered == dask
    assert sum(event["event"] == "action" for event in dask) > 2 * len(MESSAGES)


def test_the_plan_runs_each_needed_node_after_what_it_needs(agent):
    runner = agent.processor.graph_runner
    schema = runner._graph_schema
    targets = rasas_targets(agent)
    kept = graph_order.plan(runner, targets, [])
    order = [name for name, _ in kept.steps]
    assert set(order) == set(schema.minimal_graph_schema(targets).nodes)
    for position, (name, needs) in enumerate(kept.steps):
        for need in needs:
            assert need not in schema.nodes or need in order[:position], (name, need)


def test_an_input_named_like_a_node_stands_in_for_it(agent):
    runner = agent.processor.graph_runner
    schema = runner._graph_schema
    targets = rasas_targets(agent)
    needed = schema.minimal_graph_schema(targets).nodes
    some_node = next(name for name in needed if name not in targets)
    kept = graph_order.plan(runner, targets, [some_node])
    assert some_node not in [name for name, _ in kept.steps]


def test_an_input_value_that_names_a_node_is_refused_as_rasa_does(agent):
    runner = agent.processor.graph_runner
    targets = rasas_targets(agent)
    node = next(iter(runner._graph_schema.minimal_graph_schema(targets).nodes))
    graph_order.install()
    try:
        with pytest.raises(GraphRunError, match="clashes with a node name"):
            runner.run(inputs={"__message__": node}, targets=targets)
    finally:
        graph_order.uninstall()
