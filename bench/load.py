"""Closed-loop load on a chat webhook: N conversations, each sending when answered.

Each conversation is one sender (for the project, one signed-in person with a token of
their own) that sends its next message as soon as the answer to the previous one has
come, for a duration or a number of turns. Nothing is sent open-loop: the offered load is
what the server can answer, so throughput is the server's capacity at N conversations.

    result = asyncio.run(run_load(conversations, SMALL_TALK, seconds=30))
    result.throughput, result.percentile(95), result.errors

Errors are answers that are not 200, requests that raise (timeouts, refused connections),
empty answers, and answers without the text a message expects (`Message.expect`).
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import httpx

REQUEST_TIMEOUT = 60.0


@dataclass(frozen=True)
class Message:
    """One message of a mix; `expect`: text the answer must contain (case-insensitive)."""

    text: str
    expect: str = ""


# Small talk that both the project and the stock `rasa init` bot understand: the stock bot
# knows greet, goodbye, affirm, deny, mood_great, mood_unhappy and bot_challenge, and answers
# nothing to what it does not know ("thanks" gets an empty answer), so only greetings,
# goodbyes and "are you a bot?" are in the mix. Any non-empty answer counts.
SMALL_TALK = (
    Message("hello"),
    Message("are you a bot?"),
    Message("good morning"),
    Message("goodbye"),
    Message("hi there"),
    Message("am I talking to a bot?"),
    Message("bye"),
)
# Questions about a buyer's account at Acme (bench.load_people seeds such buyers), each with
# a piece of the real answer, so that "I can't reach your account" counts as an error. None
# of them opens a form or asks for a confirmation: every turn is one question, one answer.
ACCOUNT_QUESTIONS = (
    Message("show me our unpaid invoices", "Unpaid invoices of Acme Corporation"),
    Message("show my recent orders", "Orders for Acme Corporation"),
    Message("what's my role?", "Your role: buyer"),
    Message("warranty for service tag 7XK2M93", "7XK2M93 (Latitude 7440"),
    Message("what is the status of order 100000002", "Order 100000002: shipped"),
    Message("list our devices", "Devices of Acme Corporation"),
    Message("who is my account manager?", "Your account team for Acme Corporation"),
    Message("show our quotes", "Quotes for Acme Corporation"),
)


@dataclass(frozen=True)
class Conversation:
    """Where one conversation sends: the webhook, its sender id and headers (a token)."""

    url: str
    sender: str
    headers: Dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Sample:
    conversation: int
    turn: int  # 1 for the conversation's first message, warm-up turns included
    seconds: float  # from sending until the whole answer was read
    error: str = ""  # empty when answered as expected


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between closest ranks.

    The same definition as numpy's default: for sorted x of n values, the value at rank
    q/100 * (n - 1). NaN for no values.
    """
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = q / 100 * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class LoadResult:
    """What one load run measured (warm-up turns excluded)."""

    concurrency: int
    seconds: float  # wall time of the measured part, until the last answer
    samples: List[Sample]
    warmup_errors: List[str] = field(default_factory=list)

    @property
    def answered(self) -> List[float]:
        return [s.seconds for s in self.samples if not s.error]

    @property
    def errors(self) -> int:
        return sum(1 for s in self.samples if s.error)

    def error_kinds(self) -> Counter:
        return Counter(s.error.split(":", 1)[0] for s in self.samples if s.error)

    def first_errors(self, count: int = 3) -> List[str]:
        return [s.error for s in self.samples if s.error][:count]

    @property
    def throughput(self) -> float:
        """Answered messages a second (errors are not throughput)."""
        return throughput(len(self.answered), self.seconds)

    def percentile(self, q: float) -> float:
        """Latency percentile of the answered messages, in milliseconds."""
        return percentile(self.answered, q) * 1000


def throughput(answered: int, seconds: float) -> float:
    return answered / seconds if seconds > 0 else 0.0


def answer_error(status: int, body: str, message: Message) -> str:
    """Why an answer is not one (empty string: it is)."""
    if status != 200:
        return f"HTTP {status}: {body[:120]}"
    try:
        replies = json.loads(body)
    except ValueError:
        return f"not JSON: {body[:120]}"
    if not isinstance(replies, list) or not replies:
        return f"empty answer to {message.text!r}"
    if message.expect and message.expect.lower() not in body_text(replies).lower():
        return f"unexpected answer to {message.text!r}: {body_text(replies)[:120]!r}"
    return ""


def body_text(replies: List[Any]) -> str:
    return "\n".join(str(r.get("text", "")) for r in replies if isinstance(r, dict))


async def _send(
    client: httpx.AsyncClient, conversation: Conversation, message: Message
) -> Tuple[float, str]:
    started = time.perf_counter()
    try:
        response = await client.post(
            conversation.url,
            headers=conversation.headers,
            json={"sender": conversation.sender, "message": message.text},
        )
        body = response.text
    except httpx.HTTPError as exc:
        return time.perf_counter() - started, f"{type(exc).__name__}: {exc}"[:160]
    return time.perf_counter() - started, answer_error(response.status_code, body, message)


async def run_load(
    conversations: Sequence[Conversation],
    mix: Sequence[Message],
    *,
    seconds: Optional[float] = None,
    turns: Optional[int] = None,
    warmup: int = 1,
    on_sample: Optional[Callable[[Sample], None]] = None,
) -> LoadResult:
    """Every conversation at once, each message sent when the previous one is answered.

    Args:
        conversations: one per concurrent conversation (its concurrency is their number).
        mix: the messages, in order; conversation i starts at message i of the mix, so
            that concurrent conversations do not all ask the same thing at once.
        seconds: send no new message after this long (answers in flight are awaited).
        turns: or stop each conversation after this many measured turns (both: first wins).
        warmup: turns each conversation sends first, all together, before the clock
            starts (the first turn of a conversation starts its session); not measured.
        on_sample: called with every measured sample as it is taken (progress bars).
    """
    if seconds is None and turns is None:
        raise ValueError("give seconds, turns or both")
    limits = httpx.Limits(max_connections=len(conversations), max_keepalive_connections=None)
    samples: List[Sample] = []
    warmup_errors: List[str] = []

    async def warm(number: int, conversation: Conversation, client: httpx.AsyncClient) -> None:
        for turn in range(warmup):
            _, error = await _send(client, conversation, mix[(number + turn) % len(mix)])
            if error:
                warmup_errors.append(error)

    async def converse(
        number: int, conversation: Conversation, client: httpx.AsyncClient, ends: float
    ) -> None:
        turn = warmup
        while (turns is None or turn - warmup < turns) and time.monotonic() < ends:
            message = mix[(number + turn) % len(mix)]
            took, error = await _send(client, conversation, message)
            turn += 1
            sample = Sample(number, turn, took, error)
            samples.append(sample)
            if on_sample:
                on_sample(sample)

    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT, limits=limits) as client:
        await asyncio.gather(*(warm(n, c, client) for n, c in enumerate(conversations)))
        started = time.monotonic()
        ends = started + seconds if seconds is not None else math.inf
        await asyncio.gather(*(converse(n, c, client, ends) for n, c in enumerate(conversations)))
        took = time.monotonic() - started
    return LoadResult(len(conversations), took, samples, warmup_errors)
