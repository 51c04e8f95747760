"""How long a message takes between a customer and an agent at the handoff desk, both ways.

    python -m bench.handoff_latency [--messages 30]      # or: make bench

Starts the whole stack the way the end-to-end tests do (`tests/e2e/conftest.running_stack`:
account services, action server, Rasa with the trained model and the portal, push through
Redis at 127.0.0.1:6379), opens a handoff as Ben, claims it as Sam on the agent console's
socket, then relays `--messages` messages each way, one at a time:

- customer -> agent: from the customer's message sent on the portal channel until the
  console's socket delivers it (the layer stores it in the transcript at the account
  services, then pushes it to the desk);
- agent -> customer: from the console's `say` until the customer's event stream delivers it.

The console here is a Socket.IO client on long-polling (the browser's console uses the
websocket transport, which the engineio client cannot use with the aiohttp Rasa pins), so
agent-side figures include up to one polling round trip. Writes bench/reports/handoff_latency.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import platform
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import List

from rich.console import Console as Terminal
from rich.progress import track

from bot import assistant
from bot.settings import PROJECT_ROOT

REPORT = PROJECT_ROOT / "bench" / "reports" / "handoff_latency.md"
terminal = Terminal()


def _summary(name: str, seconds: List[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]
    return f"| {name} | {len(ms)} | {statistics.median(ms):.0f} | {p95:.0f} | {max(ms):.0f} |"


async def _measure(stack: object, messages: int) -> tuple:
    from tests.e2e.test_handoff import BEN, Console, Customer

    customer, console = Customer(stack, BEN), Console(stack)
    await customer.listen()
    await console.connect()
    try:
        await customer.say("I want to talk to a person")
        handoff = await console.waiting("Ben")
        claimed = await console.call("claim", {"id": handoff["id"]})
        assert claimed["ok"], claimed
        await customer.pushed_text("has joined")
        to_agent: List[float] = []
        to_customer: List[float] = []
        for n in track(range(messages), description="relaying", console=terminal):
            text = f"customer line {n} {uuid.uuid4().hex[:8]}"
            started = time.monotonic()
            await customer.say(text)
            seen = await console.customer_said(text)
            to_agent.append(seen["_at"] - started)
            text = f"agent line {n} {uuid.uuid4().hex[:8]}"
            started = time.monotonic()
            await console.call("say", {"id": handoff["id"], "text": text})
            got = await customer.pushed_text(text)
            to_customer.append(got["_at"] - started)
        await console.call("close", {"id": handoff["id"], "outcome": "resolved"})
        return to_agent, to_customer
    finally:
        await customer.close()
        await console.close()


def main(argv: List[str] = sys.argv[1:]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=30, help="messages each way")
    args = parser.parse_args(argv)
    from tests.e2e.conftest import running_stack

    if assistant.model_is_stale():
        terminal.print("the model is stale: run `make train` first")
        return 1
    terminal.print("starting the stack (services, actions, Rasa, portal)...")
    with (
        tempfile.TemporaryDirectory() as workdir,
        running_stack(Path(workdir), assistant.model_path()) as stack,
    ):
        to_agent, to_customer = asyncio.run(_measure(stack, args.messages))
    lines = [
        "# Handoff desk: relay latency",
        "",
        f"Measured {dt.date.today().isoformat()} on {platform.machine()} "
        f"({platform.python_version()}), `python -m bench.handoff_latency "
        f"--messages {args.messages}`, the whole stack on one machine, push through Redis.",
        "",
        "| direction | messages | p50 ms | p95 ms | max ms |",
        "|---|---|---|---|---|",
        _summary("customer -> agent (portal channel -> console socket)", to_agent),
        _summary("agent -> customer (console socket -> event stream)", to_customer),
        "",
        "Customer -> agent includes the customer's HTTP request, the conversation layer, the",
        "transcript write at the account services and the push to the console; agent -> customer",
        "the socket call, the transcript write and the push to the customer's stream. The console",
        "here uses long-polling (see the module docstring), so both include up to one poll.",
        "",
    ]
    REPORT.write_text("\n".join(lines), encoding="utf-8")
    terminal.print("\n".join(lines[5:9]))
    terminal.print(f"report: {REPORT.relative_to(PROJECT_ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
