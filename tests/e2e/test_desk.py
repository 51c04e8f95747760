"""The handoff desk in real headless Chromium: a customer in the widget, an agent at /desk.

Two people in one browser (two contexts, two cookies): the customer asks the assistant for a
person, the agent sees them in the queue, claims, reads the context and the customer's
account, and the two talk live until the agent closes and the assistant is back. Each step
checks what each person sees against the account services (the system of record) and the
domain's own wording. Screenshots of both pages are left in var/test-artifacts/desk/.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import httpx
import pytest
import yaml
from playwright.sync_api import Browser, Page, sync_playwright

from bot.chat.layer import fixed_reply
from bot.handoff.desk import minutes
from bot.language import detect_language
from tests.conftest import ROOT
from tests.e2e.conftest import Stack
from tests.e2e.test_widget import (
    CHROMIUM,
    CHROMIUM_ARGS,
    REPLIES_AFTER_LAST_USER,
    ask,
    axe_violations,
    open_chat,
    sign_in,
)

ARTIFACTS = ROOT / "var" / "test-artifacts" / "desk"
AGENT = "sam.agent@vendor.example"
AGENT_FIRST_NAME = "Sam"  # what the customer is told (the services show the first name)
# The desk's watch asks the services every HANDOFF_POLL_MS (2 s): news reaches the customer
# within a few seconds; the console's queue refreshes every 5 s and at once on a change.
NEWS_TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: apt-get install -y chromium (.ci/run does it)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _new_page(browser: Browser, console: List[str], who: str) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.on("console", lambda message: console.append(f"{who} {message.type}: {message.text}"))
    page.on("pageerror", lambda error: console.append(f"{who} pageerror: {error}"))
    return page


@pytest.fixture
def people(
    browser: Browser, stack: Stack, request: pytest.FixtureRequest
) -> Iterator[Tuple[Page, Page]]:
    """The customer's page and the agent's page, each in its own browser profile."""
    console: List[str] = []
    customer = _new_page(browser, console, "customer")
    agent = _new_page(browser, console, "agent")
    yield customer, agent
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", request.node.name)
    (ARTIFACTS / f"{name}.console.txt").write_text("\n".join(console) + "\n")
    for who, page in (("customer", customer), ("agent", agent)):
        if not page.is_closed():
            page.screenshot(path=str(ARTIFACTS / f"{name}.{who}.png"), full_page=True)
        page.context.close()
    assert not [line for line in console if "pageerror" in line], console


# --- helpers ------------------------------------------------------------------------------


def domain_reply(name: str, language: str, **values: Any) -> str:
    """A response's text as the domain words it, its placeholders filled."""
    responses: Dict[str, Any] = {}
    for part in sorted((ROOT / "domain").glob("*.yml")):
        responses.update(
            (yaml.safe_load(part.read_text(encoding="utf-8")) or {}).get("responses") or {}
        )
    return fixed_reply(responses, name, language, **values).text


def services(stack: Stack, email: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(
        method,
        f"{stack.services.base_url}{path}",
        headers=stack.services.headers(email),
        timeout=30,
        **kwargs,
    )


def widget_conversation(stack: Stack, email: str) -> str:
    return f"widget:{stack.services.user_id(email)}"


def open_handoff_of(stack: Stack, email: str) -> Optional[Dict[str, Any]]:
    """The person's open handoff for their widget conversation (the services' HandoffStatus)."""
    answer = services(
        stack,
        email,
        "GET",
        "/handoffs/current",
        params={"conversation_id": widget_conversation(stack, email)},
    )
    if answer.status_code == 404:
        return None
    answer.raise_for_status()
    return dict(answer.json())


def no_open_handoff(stack: Stack, email: str) -> None:
    """Start from the assistant: a handoff another test left open is cancelled."""
    left = open_handoff_of(stack, email)
    if left is not None:
        services(stack, email, "POST", f"/handoffs/{left['id']}/cancel").raise_for_status()


def sign_in_agent(page: Page, stack: Stack) -> None:
    page.goto(f"{stack.portal_url}/sign-in")
    page.click(f"button[data-email='{AGENT}']")
    page.wait_for_url(f"{stack.portal_url}/desk")
    page.wait_for_selector("#connection[data-state=connected]")


def customer_lines(page: Page) -> List[str]:
    return [text.strip() for text in page.locator(".pc-log > li").all_inner_texts()]


def wait_for_customer_line(page: Page, text: str) -> Any:
    line = page.locator(".pc-log > li", has_text=text).last
    line.wait_for(timeout=NEWS_TIMEOUT_MS)
    return line


def queue_row(agent: Page, handoff_id: int) -> Any:
    row = agent.locator(f"#queue-rows tr[data-handoff='{handoff_id}']")
    row.wait_for(timeout=NEWS_TIMEOUT_MS)
    return row


def row_cells(row: Any) -> List[str]:
    return [c.strip() for c in row.locator("th, td").all_inner_texts()]


def facts(agent: Page, list_id: str) -> Dict[str, str]:
    terms = agent.locator(f"#{list_id} dt").all_inner_texts()
    values = agent.locator(f"#{list_id} dd").all_inner_texts()
    return dict(zip((t.strip() for t in terms), (v.strip() for v in values), strict=True))


def desk_waiting(stack: Stack) -> List[Dict[str, Any]]:
    answer = services(stack, AGENT, "GET", "/desk/queue")
    answer.raise_for_status()
    return list(answer.json()["waiting"])


def topic_label(topic: Optional[str]) -> str:
    return topic.replace("_", " ") if topic else "—"


def first_column(agent: Page) -> List[str]:
    return [
        t.strip()
        for t in agent.locator("#account-panel table tbody tr td:first-child").all_inner_texts()
    ]


# --- the whole conversation, in English and in Spanish -------------------------------------

SCENARIOS = {
    "en": {
        "customer": "ben.buyer@acme.example",
        "person": "Ben Baker",
        "account": "Acme Corporation",
        "role": "Buyer",
        "language": "English",
        "before": "show unpaid invoices",
        "ask_for_a_person": "I want to talk to a person",
        "agent_reply": "Hi Ben, I'm Sam. I'm looking at your invoices now.",
        "customer_answer": "Thanks Sam, the oldest unpaid invoice is the one I mean.",
        "after": "show unpaid invoices",
    },
    "es": {
        "customer": "diego.admin@globex.example",
        "person": "Diego Domínguez",
        "account": "Globex México",
        "role": "Site admin",
        "language": "Spanish",
        "before": "muéstrame las facturas pendientes",
        "ask_for_a_person": "quiero hablar con una persona",
        "agent_reply": "Hola Diego, soy Sam. Estoy revisando tus facturas ahora mismo.",
        "customer_answer": "Gracias Sam, es la factura pendiente más antigua.",
        "after": "muéstrame las facturas pendientes",
    },
}


@pytest.mark.parametrize("language", ["en", "es"])
def test_a_customer_talks_to_an_agent_and_comes_back_to_the_assistant(
    people: Tuple[Page, Page], stack: Stack, language: str
) -> None:
    case = SCENARIOS[language]
    email = case["customer"]
    customer, agent = people
    no_open_handoff(stack, email)

    # The customer asks the assistant something, then for a person.
    sign_in(customer, stack, email)
    open_chat(customer)
    ask(customer, case["before"])
    shown_before = len(customer_lines(customer))
    waiting_reply = ask(customer, case["ask_for_a_person"])
    handoff = open_handoff_of(stack, email)
    assert handoff is not None and handoff["state"] == "waiting", "the assistant opened a handoff"
    assert handoff["language"] == language
    told = domain_reply(
        "utter_handoff_waiting",
        language,
        position=handoff["position"],
        minutes=minutes(handoff["expected_wait_seconds"]),
    )
    assert told in waiting_reply
    back = "Back to the assistant" if language == "en" else "Volver al asistente"
    assert customer.locator(".pc-log > li").last.locator(".pc-choice", has_text=back).is_visible()

    # The agent sees them in the queue, oldest first, with what the services hold.
    sign_in_agent(agent, stack)
    row = queue_row(agent, handoff["id"])
    held = {h["id"]: h for h in desk_waiting(stack)}[handoff["id"]]
    cells = row_cells(row)
    assert cells[1:8] == [
        case["person"],
        case["account"],
        case["role"],
        case["language"],
        "Web chat",
        "Asked for a person",
        topic_label(held["topic"]),
    ]
    order = [str(h["id"]) for h in desk_waiting(stack)]
    agent.wait_for_function(
        "ids => JSON.stringify([...document.querySelectorAll('#queue-rows tr')]"
        ".map(r => r.dataset.handoff)) === JSON.stringify(ids)",
        arg=order,
        timeout=NEWS_TIMEOUT_MS,
    )
    waited = row.locator("td.waited")
    first = waited.inner_text()
    assert re.fullmatch(r"(\d+ min )?\d+ s", first), first
    agent.wait_for_function(
        "([id, before]) => document.querySelector(`[data-waited='${id}']`).textContent !== before",
        arg=[str(handoff["id"]), first],
        timeout=5_000,
    )

    # The agent claims; the conversation opens with its transcript and context.
    row.get_by_role("button", name=re.compile("^Claim")).click()
    agent.wait_for_selector("#conversation:not([hidden])")
    assert case["person"] in agent.locator("#conversation-title").inner_text()
    agent.locator(f"#queue-rows tr[data-handoff='{handoff['id']}']").wait_for(state="detached")
    assert agent.locator("#mine button[aria-current=true]").inner_text().startswith(case["person"])
    customer_said = agent.locator("#transcript .line-customer .line-text").all_inner_texts()
    assert customer_said[-2:] == [case["before"], case["ask_for_a_person"]]
    # (The transcript is the conversation until the request: the answer to the question.)
    assistant_said = agent.locator("#transcript .line-assistant .line-text").all_inner_texts()
    assert any(case["account"] in line for line in assistant_said), assistant_said
    context = facts(agent, "context")
    assert context["Account"].startswith(case["account"])
    assert (context["Person"], context["Role"], context["Language"], context["Channel"]) == (
        case["person"],
        case["role"],
        case["language"],
        "Web chat",
    )
    assert context["Reason"] == "Asked for a person"
    assert context["Trying to do"] == topic_label(held["topic"])
    assert agent.locator("#slots dt").count() >= 1

    # The customer is told who joined, in their language.
    wait_for_customer_line(
        customer, domain_reply("utter_handoff_joined", language, agent=AGENT_FIRST_NAME)
    )

    # The agent writes: the customer sees them typing, then the reply, from Sam.
    agent.click("#reply-input")
    agent.keyboard.type(case["agent_reply"][:12])
    customer.locator(".pc-typing", has_text=AGENT_FIRST_NAME).wait_for(timeout=NEWS_TIMEOUT_MS)
    agent.keyboard.type(case["agent_reply"][12:])
    agent.keyboard.press("Enter")
    sent = agent.locator("#transcript .line-agent").last
    assert sent.locator(".line-text").inner_text() == case["agent_reply"]
    agent.wait_for_selector("#transcript .line-agent[data-state=sent]")
    assert agent.locator("#reply-input").input_value() == ""
    from_sam = wait_for_customer_line(customer, case["agent_reply"])
    assert AGENT_FIRST_NAME in from_sam.inner_text(), "the reply says who wrote it"
    assert "Assistant" not in from_sam.inner_text() and "Asistente" not in from_sam.inner_text()

    # The customer answers: the agent sees them typing, then the message, live; the
    # assistant says nothing.
    customer.click("#pc-input")
    customer.keyboard.type(case["customer_answer"][:10])
    agent.locator("#typing", has_text=f"{case['person']} is typing").wait_for(
        timeout=NEWS_TIMEOUT_MS
    )
    customer.keyboard.type(case["customer_answer"][10:])
    sent_before = customer.locator(".pc-log .pc-user").count()
    customer.keyboard.press("Enter")
    agent.locator("#transcript .line-customer", has_text=case["customer_answer"]).wait_for(
        timeout=NEWS_TIMEOUT_MS
    )
    assert agent.locator("#typing").is_hidden()
    assert (
        f"{case['person']} says: {case['customer_answer']}"
        in agent.locator("#announcer").inner_text()
    )
    customer.wait_for_function(
        "n => { const s = document.querySelectorAll('.pc-log .pc-user');"
        " return s.length > n && s[s.length - 1].dataset.state === 'sent'; }",
        arg=sent_before,
    )
    customer.wait_for_timeout(1500)
    assert customer.evaluate(REPLIES_AFTER_LAST_USER) == "", "held: the assistant is silent"

    # The agent reads the customer's invoices through the handoff's grant.
    agent.click("#tab-invoices")
    agent.wait_for_selector("#account-panel[data-area=invoices][aria-busy=false] table")
    assert agent.locator("#tab-invoices").get_attribute("aria-selected") == "true"
    invoices = services(stack, email, "GET", "/invoices?status=all").json()["invoices"]
    assert invoices, "the demo world has invoices for this account"
    assert sorted(first_column(agent)) == sorted(i["number"] for i in invoices)
    assert case["account"] in agent.locator("#account-panel caption").inner_text()

    # The agent closes as resolved, after confirming.
    agent.check("input[name=outcome][value=resolved]")
    agent.fill("#close-note", "Explained the unpaid invoice.")
    agent.click("#close")
    dialog = agent.locator("#confirm-close")
    dialog.wait_for()
    assert "as resolved" in agent.locator("#confirm-text").inner_text()
    agent.click("#confirm-yes")
    agent.wait_for_selector("#conversation", state="hidden")
    assert agent.locator("#notice").inner_text() == (
        f"Closed the conversation with {case['person']} as resolved."
    )
    closed = services(stack, email, "GET", f"/handoffs/{handoff['id']}").json()
    assert (closed["state"], closed["outcome"]) == ("closed", "resolved")

    # The customer is back with the assistant, which answers again.
    wait_for_customer_line(
        customer, domain_reply("utter_handoff_resumed", language, agent=AGENT_FIRST_NAME)
    )
    again = ask(customer, case["after"])
    unpaid = services(stack, email, "GET", "/invoices?status=unpaid").json()["invoices"]
    assert case["account"] in again
    shown = customer.locator(".pc-bot .pc-table").last.locator("tbody th .pc-id")
    assert sorted(shown.all_inner_texts()) == sorted(i["number"] for i in unpaid)

    # Everything the customer saw from the handoff on is in their language.
    since = customer_lines(customer)[shown_before:]
    assert since, "the customer saw the handoff"
    wrong = [line for line in since if detect_language(line) not in (language, None)]
    assert wrong == [], f"lines not in {language}: {wrong}"
    if language == "es":
        assert all(detect_language(line) == "es" for line in since if len(line.split()) > 3), since


# --- keyboard only, and what axe-core finds -------------------------------------------------


def open_handoff_for(stack: Stack, email: str) -> Dict[str, Any]:
    """A waiting handoff made at the services directly (a conversation nobody is chatting in)."""
    answer = services(
        stack,
        email,
        "POST",
        "/handoffs",
        json={
            "conversation_id": f"e2e-desk-{uuid.uuid4().hex[:12]}",
            "channel": "widget",
            "language": "en",
            "reason": "not_understood",
            "topic": "show_invoices",
            "slots": {"invoice_status": "unpaid"},
            "transcript": [
                {"who": "customer", "text": "where is my bill", "at": "2025-01-06T09:00:00Z"},
                {
                    "who": "assistant",
                    "text": "I'm not sure I understood.",
                    "at": "2025-01-06T09:00:01Z",
                },
            ],
        },
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def focused(page: Page) -> str:
    return str(
        page.evaluate(
            "() => { const e = document.activeElement; return [e.id, e.getAttribute('data-claim'),"
            " e.getAttribute('role'), e.textContent.trim().slice(0, 30)].join('|'); }"
        )
    )


def tab_to(page: Page, wanted: str, *, backwards: bool = False, limit: int = 80) -> None:
    for _ in range(limit):
        if wanted in focused(page):
            return
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
    raise AssertionError(f"{wanted} cannot be reached by keyboard (last: {focused(page)})")


def test_the_desk_works_by_keyboard_alone_and_axe_finds_nothing_serious(
    people: Tuple[Page, Page], stack: Stack
) -> None:
    _, agent = people
    handoff = open_handoff_for(stack, "sara.shopper@acme.example")
    try:
        sign_in_agent(agent, stack)
        queue_row(agent, handoff["id"])
        found = {"queue": axe_violations(agent)}

        # Claim with the keyboard: the cursor lands in the reply box.
        tab_to(agent, f"|{handoff['id']}|")
        agent.keyboard.press("Enter")
        agent.wait_for_selector("#conversation:not([hidden])")
        assert focused(agent).startswith("reply-input|")
        transcript = agent.locator("#transcript .line")
        assert transcript.locator(".line-who").all_inner_texts()[:2] == [
            "Customer (Sara Shah)",
            "Assistant",
        ]
        assert facts(agent, "context")["Reason"] == "The assistant did not understand"
        assert facts(agent, "slots") == {"invoice status": "unpaid"}
        agent.keyboard.type("Hello Sara, which bill do you mean?")
        agent.keyboard.press("Enter")
        agent.wait_for_selector("#transcript .line-agent[data-state=sent]")

        # The account tabs: Tab reaches the selected one, arrows move between them.
        tab_to(agent, "tab-orders|")
        agent.keyboard.press("ArrowRight")
        assert focused(agent).startswith("tab-invoices|")
        agent.wait_for_selector("#account-panel[data-area=invoices][aria-busy=false] table")
        found["conversation with the invoices"] = axe_violations(agent)

        # Close: a confirmation that Escape cancels, then Enter on "Close conversation".
        tab_to(agent, "close|")
        agent.keyboard.press("Enter")
        agent.wait_for_selector("#confirm-close[open]")
        assert focused(agent).startswith("confirm-cancel|")
        found["close confirmation"] = axe_violations(agent)
        agent.keyboard.press("Escape")
        agent.wait_for_selector("#confirm-close:not([open])", state="attached")
        assert focused(agent).startswith("close|")
        assert agent.locator("#conversation").is_visible(), "cancelled: nothing closed"
        agent.keyboard.press("Enter")
        agent.wait_for_selector("#confirm-close[open]")
        agent.keyboard.press("Tab")
        assert focused(agent).startswith("confirm-yes|")
        agent.keyboard.press("Enter")
        agent.wait_for_selector("#conversation", state="hidden")
        status = services(stack, "sara.shopper@acme.example", "GET", f"/handoffs/{handoff['id']}")
        assert (status.json()["state"], status.json()["outcome"]) == ("closed", "resolved")
        assert found == {
            "queue": [],
            "conversation with the invoices": [],
            "close confirmation": [],
        }
    finally:
        left = services(stack, "sara.shopper@acme.example", "GET", f"/handoffs/{handoff['id']}")
        if left.status_code == 200 and left.json()["state"] in ("waiting", "claimed"):
            services(
                stack, "sara.shopper@acme.example", "POST", f"/handoffs/{handoff['id']}/cancel"
            )


def test_a_customer_who_opens_the_desk_is_told_it_is_for_the_support_team(
    people: Tuple[Page, Page], stack: Stack
) -> None:
    customer, _ = people
    sign_in(customer, stack, "ben.buyer@acme.example")
    answer = customer.goto(f"{stack.portal_url}/desk")
    assert answer is not None and answer.status == 403
    assert customer.locator("h1").inner_text() == "This page is for the support team"
    assert axe_violations(customer) == []
