"""Rasa's model graph run node after node in an order worked out once, instead of by dask.

Rasa runs its model as a graph of components: the NLU pipeline for each message, and the
policies once for each action it predicts (two or three times a message). Every run goes
through `dask.get`: dask orders the graph, builds its scheduler's state, and wraps every
node's call in its task machinery; before that Rasa works out which nodes the targets need.
On a two-core machine under load that bookkeeping was a tenth of the Rasa process's busy
time, for graphs of a dozen or so nodes that always run in the same order.

`run` here does what `DaskGraphRunner.run` does with the same graph: it runs every node the
targets need once, each with the outputs of the nodes it needs (a node's output is the
`(name, value)` pair Rasa's `GraphNode` returns; an input is `(name, value)` too, and an
input named like a node stands in for it, as in Rasa's dask graph). The order (a
topological one) is worked out the first time a runner is asked for those targets with
those inputs, and kept. Errors are Rasa's: the node's own exception, and a `RuntimeError`
becomes `GraphRunError`. `tests/chat/test_graph_order.py` checks that the assistant's
model answers exactly the same both ways.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, FrozenSet, List, Optional, Sequence, Tuple

from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner

# One step of a run: the node's name and the names of what it needs, in its order.
Step = Tuple[str, Tuple[str, ...]]
_PLANS_ATTRIBUTE = "_graph_order_plans"
_ORIGINAL: Dict[str, Any] = {}


@dataclass(frozen=True)
class Plan:
    """What a run with given targets and input names does, worked out once."""

    nodes: FrozenSet[str]  # the nodes the targets need (the graph Rasa gives dask)
    steps: List[Step]  # the ones to call, in order (an input stands in for its namesake)


def plan(runner: DaskGraphRunner, targets: Sequence[str], inputs: Sequence[str]) -> Plan:
    """The nodes `targets` need, each after the nodes it needs (inputs stand in for nodes)."""
    nodes = runner._graph_schema.minimal_graph_schema(list(targets)).nodes
    steps: List[Step] = []
    placed = set(inputs)
    pending = [name for name in nodes if name not in placed]
    while pending:
        ready = [
            name
            for name in pending
            if all(need in placed or need not in nodes for need in nodes[name].needs.values())
        ]
        if not ready:  # a cycle: let Rasa's own runner say what is wrong
            raise GraphRunError(f"the graph's nodes {pending} need each other")
        for name in ready:
            steps.append((name, tuple(nodes[name].needs.values())))
            placed.add(name)
        pending = [name for name in pending if name not in placed]
    return Plan(frozenset(nodes), steps)


def _kept_plan(runner: DaskGraphRunner, targets: Sequence[str], inputs: Sequence[str]) -> Plan:
    plans = runner.__dict__.setdefault(_PLANS_ATTRIBUTE, {})
    key = (tuple(targets), tuple(sorted(inputs)))
    if key not in plans:
        plans[key] = plan(runner, targets, inputs)
    return plans[key]


def run(
    self: DaskGraphRunner,
    inputs: Optional[Dict[str, Any]] = None,
    targets: Optional[List[str]] = None,
) -> Dict[str, Any]:
    """`DaskGraphRunner.run`, with the nodes called in the kept order."""
    run_targets = targets if targets else self._graph_schema.target_names
    given = inputs or {}
    kept = _kept_plan(self, run_targets, list(given))
    values: Dict[str, Any] = {}
    for name, value in given.items():
        if isinstance(value, str) and (value in kept.nodes or value in values):
            raise GraphRunError(
                f"Input value '{value}' clashes with a node name. Make sure "
                f"that none of the input names passed to the `run` method are the "
                f"same as node names in the graph schema."
            )
        values[name] = (name, value)
    nodes = self._instantiated_nodes
    try:
        for name, needs in kept.steps:
            # A need nothing provides is handed over as its name, as dask does; Rasa's
            # node then says which input is missing.
            values[name] = nodes[name](*(values.get(need, need) for need in needs))
    except RuntimeError as error:
        raise GraphRunError("Error running runner.") from error
    return dict(values[target] for target in run_targets)


def install() -> None:
    """Run Rasa's graphs in the kept order in this process (the Rasa server calls this)."""
    if not _ORIGINAL:
        _ORIGINAL["run"] = DaskGraphRunner.__dict__["run"]
        DaskGraphRunner.run = run  # type: ignore[method-assign]


def uninstall() -> None:
    """Rasa's own dask run again (for tests that compare the two)."""
    if _ORIGINAL:
        DaskGraphRunner.run = _ORIGINAL.pop("run")  # type: ignore[method-assign]
