"""Production mode (`make run-prod`) and its faults, tried against the real processes.

One stack for the module: the runner starts the account services and the action server with
two workers each, two Rasa replicas, the portal and nginx, on PostgreSQL and Redis. The tests
speak to nginx's one address, as people would, and break things the way they break: a replica
killed (SIGKILL) in the middle of load, PostgreSQL and Redis restarted, the action server
killed in the middle of a form. Each time the runner starts what died, and the conversation
goes on where it was.

PostgreSQL, Redis and nginx are required in CI; elsewhere the module skips and says why.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import httpx
import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.conftest import TEST_ACTIONS_SECRET, TEST_CHAT_SECRET, TEST_DOWNLOAD_SECRET
from tests.e2e.prod_stack import (
    LOAD_PEOPLE,
    ProdStack,
    missing_prerequisite,
    restart_postgresql,
    restart_redis,
    running_prod_stack,
    seed_load_people,
)
from tests.e2e.test_widget import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LAST_USER_SETTLED,
    REPLIES_AFTER_LAST_USER,
)

CARD = "4111 1111 1111 1111"
BEN = "ben.buyer@acme.example"
DIEGO = "diego.admin@globex.example"
LOAD_SECONDS = 120
SMALL_TALK_AND_ACCOUNT = ["hello", "show my recent orders", "what's my role?", "thanks"]


@pytest.fixture(scope="module")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProdStack]:
    problem = missing_prerequisite()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"the production tests are required in CI: {problem}")
        pytest.skip(problem)
    with running_prod_stack(tmp_path_factory.mktemp("prod")) as stack:
        yield stack


def conversation_of(prod: ProdStack, token: str) -> str:
    answer = prod.say("hello", token)
    assert answer.status_code == 200, answer.text
    return str(answer.json()[0]["recipient_id"])


def send_until_answered(
    prod: ProdStack, text: str, token: str, message_id: str, base: str = ""
) -> Tuple[List[Dict[str, Any]], int]:
    """Send one message, again with the same id after a failure; returns replies, attempts.

    A request cut off by a dying replica comes back from nginx as 502 (a POST is not
    repeated by nginx); the client repeats it with the same message id, and the assistant
    answers it once.
    """
    url = f"{base or prod.entry}/webhooks/portal/webhook"
    deadline = time.monotonic() + 120
    attempts = 0
    while True:
        attempts += 1
        try:
            answer = httpx.post(
                url,
                headers={"Authorization": f"Bearer {token}"},
                json={"message": text, "message_id": message_id},
                timeout=60,
            )
            if answer.status_code == 200:
                return answer.json(), attempts
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"{text!r} never answered"
        time.sleep(0.5)


# --- one address ---------------------------------------------------------------------------


def test_one_address_serves_the_portal_and_the_assistant_in_both_languages(prod):
    page = httpx.get(f"{prod.entry}/visitor")
    assert page.status_code == 200 and "widget.js" in page.text
    assert re.fullmatch(r"[0-9a-f]{32}", page.headers["x-request-id"])
    mine = httpx.get(f"{prod.entry}/health", headers={"X-Request-ID": "trace-0123456789"})
    assert mine.headers["x-request-id"] == "trace-0123456789"
    assert httpx.get(f"{prod.entry}/widget.js").status_code == 200
    ben = prod.token(BEN)
    diego = prod.token(DIEGO)
    assert "INV-" in prod.texts("show my unpaid invoices", ben)
    assert "INV-" in prod.texts("muéstrame las facturas pendientes", diego)
    # Rasa's HTTP API is not behind the entry point, and demo sign-in is off.
    assert httpx.get(f"{prod.replicas[0]}/version").status_code == 200  # Rasa's own
    assert httpx.get(f"{prod.entry}/version").status_code == 404
    signin = httpx.get(f"{prod.entry}/", follow_redirects=True)
    assert signin.status_code == 404 and "Demo sign-in is off" in signin.text
    for replica in prod.replicas:
        assert httpx.get(f"{replica}/webhooks/health/ready").json() == {"status": "ready"}
    assert httpx.get(f"{prod.services.base_url}/health/ready").json() == {"status": "ready"}


def test_the_same_conversation_through_both_replicas_keeps_its_order(prod):
    token = prod.token("hannah@home.example")
    conversation = conversation_of(prod, token)
    sent: Dict[int, List[str]] = {0: [], 1: []}

    def talk(number: int) -> None:
        for turn in range(5):
            text = f"thanks {'ab'[number]}{turn}"
            replies, _ = send_until_answered(
                prod, text, token, uuid.uuid4().hex, base=prod.replicas[number]
            )
            assert replies, text
            sent[number].append(text)

    threads = [threading.Thread(target=talk, args=(n,)) for n in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    stored = [t for t in prod.user_texts(conversation) if t.startswith("thanks ")]
    assert sorted(stored) == sorted(sent[0] + sent[1])  # nothing lost, nothing twice
    for number in (0, 1):  # each side's messages in the order it sent them
        assert [t for t in stored if t in sent[number]] == sent[number]
    # One turn at a time: every message's turn ended before the next one's began.
    assert prod.turns_interleaved(conversation) == []


# --- load and a replica that dies -----------------------------------------------------------


@pytest.fixture(scope="module")
def load_people(prod: ProdStack) -> List[str]:
    return seed_load_people(prod.services.engine, LOAD_PEOPLE)


def test_fifty_conversations_for_two_minutes_finish_without_an_error(prod, load_people):
    tokens = [prod.token(email) for email in load_people]
    errors: List[str] = []
    answered = 0
    sent: Dict[str, List[str]] = {}

    async def converse(client: httpx.AsyncClient, token: str, ends: float) -> None:
        nonlocal answered
        turn = 0
        said = sent.setdefault(token, [])
        while time.monotonic() < ends:
            text = SMALL_TALK_AND_ACCOUNT[turn % len(SMALL_TALK_AND_ACCOUNT)]
            turn += 1
            try:
                answer = await client.post(
                    f"{prod.entry}/webhooks/portal/webhook",
                    headers={"Authorization": f"Bearer {token}"},
                    json={"message": text},
                )
            except httpx.HTTPError as exc:
                errors.append(f"{type(exc).__name__} on {text!r}")
                continue
            if answer.status_code != 200 or not answer.json():
                errors.append(f"{answer.status_code} on {text!r}: {answer.text[:200]}")
                continue
            said.append(text)
            answered += 1

    async def load() -> float:
        limits = httpx.Limits(max_connections=LOAD_PEOPLE)
        async with httpx.AsyncClient(timeout=120, limits=limits) as client:
            started = time.monotonic()
            ends = started + LOAD_SECONDS
            await asyncio.gather(*(converse(client, token, ends) for token in tokens))
            return time.monotonic() - started

    took = asyncio.run(load())
    assert errors == [], f"{len(errors)} errors, first: {errors[:5]}"
    assert answered >= LOAD_PEOPLE * 2, f"only {answered} answers in {took:.0f} s"
    for token, said in list(sent.items())[:5]:  # what each person said is kept, once, in order
        conversation = conversation_of(prod, token)
        assert prod.user_texts(conversation)[: len(said)] == said
    print(f"\n50 conversations: {answered} answers in {took:.0f} s ({answered / took:.1f}/s)")


def test_a_replica_killed_during_load_loses_no_message_and_answers_none_twice(prod, load_people):
    people = load_people[:10]
    tokens = {email: prod.token(email) for email in people}
    sent: Dict[str, List[str]] = {email: [] for email in people}
    retried = 0

    def converse(email: str) -> None:
        nonlocal retried
        for turn in range(8):
            text = f"{SMALL_TALK_AND_ACCOUNT[turn % 4]} (turn {turn})"
            _, attempts = send_until_answered(prod, text, tokens[email], uuid.uuid4().hex)
            retried += attempts - 1
            sent[email].append(text)

    victim = prod.replica_pid(1)
    threads = [threading.Thread(target=converse, args=(email,)) for email in people]
    for thread in threads:
        thread.start()
    time.sleep(4)
    os.kill(victim, signal.SIGKILL)
    for thread in threads:
        thread.join(timeout=600)
    for email in people:
        conversation = conversation_of(prod, tokens[email])
        stored = [t for t in prod.user_texts(conversation) if "(turn " in t]
        assert stored == sent[email], email  # each message once, in order
    # The runner starts the killed replica again; it serves once its model is loaded.
    prod.wait_ready(f"{prod.replicas[0]}/webhooks/health/ready")
    assert "started again" in prod.log.read_text(errors="replace")
    print(f"\nreplica killed: {retried} requests repeated by the clients")


# --- the widget through nginx ---------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: apt-get install -y chromium (.ci/run does it)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def ask(page: Any, text: str) -> str:
    sent_before = page.locator(".pc-log .pc-user").count()
    page.fill("#pc-input", text)
    page.press("#pc-input", "Enter")
    page.wait_for_function(LAST_USER_SETTLED, arg=sent_before, timeout=120_000)
    return str(page.evaluate(REPLIES_AFTER_LAST_USER))


def test_the_widget_moves_to_the_other_replica_when_its_own_dies(prod, browser, load_people):
    for replica in prod.replicas:
        prod.wait_ready(f"{replica}/webhooks/health/ready")
    token = prod.token(load_people[-1])  # a buyer of Acme, alone in this conversation
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        page.goto(f"{prod.entry}/health")
        page.set_content(
            "<!doctype html><html lang='en'><head><title>Portal</title></head><body>"
            f"<script src='{prod.entry}/widget.js' data-chat-url='{prod.entry}'"
            f" data-token='{token}'></script></body></html>"
        )
        page.click(".pc-launcher")
        page.wait_for_selector(".pc-status[data-state=connected]", timeout=60_000)
        assert "For how long" in ask(page, "renew the contract for 9QW4T72")
        holder = prod.socket_replica()
        os.kill(prod.replica_pid(holder), signal.SIGKILL)
        try:
            page.wait_for_selector(".pc-status:not([data-state=connected])", timeout=30_000)
            page.wait_for_selector(".pc-status[data-state=connected]", timeout=60_000)
            # The other replica carries on from the shared store: the form is where it was.
            assert "plan" in ask(page, "2 years").lower()
            assert prod.socket_replica() != holder
            ask(page, "cancel")
        finally:  # the next tests need both replicas again
            prod.wait_ready(f"{prod.replicas[holder - 1]}/webhooks/health/ready")
    finally:
        context.close()


# --- the stores and the action server restarted ---------------------------------------------


def test_after_a_postgresql_restart_every_part_reconnects_by_itself(prod):
    token = prod.token(BEN)
    assert "For how long" in prod.texts("renew the contract for 9QW4T72", token)
    restart_postgresql()
    # The conversation is still there (the form goes on), and the services answer.
    assert "plan" in prod.texts("2 years", token).lower()
    quote = prod.texts("ProSupport Plus", token)
    assert "9QW4T72" in quote and "Total" in quote
    prod.texts("no", token)
    assert "INV-" in prod.texts("show my unpaid invoices", token)
    for replica in prod.replicas:  # ready again by themselves
        prod.wait_ready(f"{replica}/webhooks/health/ready", timeout=60)
    prod.wait_ready(f"{prod.services.base_url}/health/ready", timeout=60)


def test_after_a_redis_restart_every_part_reconnects_by_itself(prod):
    token = prod.token(DIEGO)
    restart_redis()
    assert "INV-" in prod.texts("muéstrame las facturas pendientes", token)
    for replica in prod.replicas:
        prod.wait_ready(f"{replica}/webhooks/health/ready", timeout=60)


def test_a_form_resumes_after_the_action_server_is_killed(prod):
    token = prod.token(BEN)
    prod.texts("cancel", token)
    assert "For how long" in prod.texts("renew the contract for 9QW4T72", token)
    actions = prod.pid_on_port(prod.actions_port)
    os.killpg(os.getpgid(actions), signal.SIGKILL)
    prod.wait_ready(f"http://127.0.0.1:{prod.actions_port}/health", timeout=120)
    assert "plan" in prod.texts("2 years", token).lower()
    quote = prod.texts("ProSupport Plus", token)
    assert "9QW4T72" in quote and "Total" in quote
    prod.texts("no", token)
    assert "started again" in prod.log.read_text(errors="replace")


# --- nothing secret kept, in production mode too --------------------------------------------


def test_no_token_secret_or_card_number_is_stored_or_logged(prod):
    ana = prod.token("ana.admin@acme.example")
    prod.say("hello", ana)
    prod.say(f"pay invoice INV-10000003 with my card {CARD}", ana)
    prod.say("no", ana)
    everything = prod.stored_and_logged()
    assert len(prod.tokens_sent) > LOAD_PEOPLE
    for token in prod.tokens_sent:
        assert token not in everything
        assert token.split(".")[2] not in everything  # not even the signature alone
    for secret in (TEST_CHAT_SECRET, TEST_DOWNLOAD_SECRET, TEST_ACTIONS_SECRET):
        assert secret not in everything
    assert CARD not in everything and "4111111111111111" not in everything
    assert "•••• 1111" in everything  # the message was stored, masked
