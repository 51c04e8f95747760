"""The demo portal and the chat widget in real headless Chromium, against the whole stack.

Every test drives the page as a person would (sign in, open the chat, type, click) and
checks what the person sees against what the account services hold. Each test leaves a
screenshot of its last step in var/test-artifacts/widget/.

Chromium is Debian's package driven through Playwright's `executable_path`
(`.ci/run` installs it; `playwright install` is never used).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, Iterator, List

import httpx
import pytest
import yaml
from playwright.sync_api import Browser, Page, sync_playwright

from actions import i18n
from bot import tokens
from bot.channels.widget import BURST
from bot.chat.layer import fixed_reply
from bot.chat.push import RedisPushHub
from tests.conftest import ROOT
from tests.e2e.conftest import REDIS_URL, Stack

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = ROOT / "var" / "test-artifacts" / "widget"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
REPLY_TIMEOUT_MS = 120_000

# The bot messages (and system lines) after the last message the person sent.
REPLIES_AFTER_LAST_USER = """() => {
  const items = [...document.querySelectorAll('.pc-log > li')];
  let i = items.length - 1;
  while (i >= 0 && !items[i].classList.contains('pc-user')) i--;
  return items.slice(i + 1).map(li => li.innerText).join('\\n');
}"""
SHOWS_AN_ACCOUNT = "(e => !!e && e.textContent.length > 0)(document.getElementById('account-name'))"
LAST_USER_SETTLED = """n => {
  const sent = document.querySelectorAll('.pc-log .pc-user');
  return sent.length > n && sent[sent.length - 1].dataset.state !== 'sending';
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: apt-get install -y chromium (.ci/run does it)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, stack: Stack, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser profile per test; its last view is saved as a screenshot artifact."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    opened = context.new_page()
    opened.set_default_timeout(30_000)
    dialogs: List[str] = []
    console: List[str] = []
    opened.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    opened.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    opened.dialogs = dialogs  # type: ignore[attr-defined]
    yield opened
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", request.node.name)
    (ARTIFACTS / f"{name}.console.txt").write_text("\n".join(console) + "\n")
    for each in context.pages:
        if not each.is_closed():
            each.screenshot(path=str(ARTIFACTS / f"{name}.png"))
            break
    context.close()


def sign_in(page: Page, stack: Stack, email: str) -> None:
    page.goto(f"{stack.portal_url}/sign-in")
    page.click(f"button[data-email='{email}']")
    page.wait_for_function(SHOWS_AN_ACCOUNT)
    page.wait_for_selector("#area table, #area .panel")


def open_chat(page: Page) -> None:
    if page.locator("#pc-panel").is_hidden():
        page.click(".pc-launcher")
    page.wait_for_selector(".pc-status[data-state=connected]", timeout=60_000)


def ask(page: Page, text: str) -> str:
    """Type a message, send it with Enter, wait until its turn is over; returns the replies."""
    sent_before = page.locator(".pc-log .pc-user").count()
    page.fill("#pc-input", text)
    page.press("#pc-input", "Enter")
    page.wait_for_function(LAST_USER_SETTLED, arg=sent_before, timeout=REPLY_TIMEOUT_MS)
    return str(page.evaluate(REPLIES_AFTER_LAST_USER))


def domain_text(name: str, language: str = "en") -> str:
    """A response's text as the domain words it (the assistant's wording is not repeated here)."""
    responses: Dict[str, Any] = {}
    for part in sorted((ROOT / "domain").glob("*.yml")):
        responses.update(
            (yaml.safe_load(part.read_text(encoding="utf-8")) or {}).get("responses") or {}
        )
    return fixed_reply(responses, name, language).text


def services_get(stack: Stack, email: str, path: str, account: str | None = None) -> Any:
    answer = httpx.get(
        f"{stack.services.base_url}{path}",
        headers=stack.services.headers(email, account),
        timeout=30,
    )
    answer.raise_for_status()
    return answer.json()


def unpaid_invoice_numbers(stack: Stack, email: str, account: str | None = None) -> List[str]:
    listed = services_get(stack, email, "/invoices?status=unpaid", account)
    return [invoice["number"] for invoice in listed["invoices"]]


def embed(page: Page, stack: Stack, token: str | None) -> None:
    """Another site's page with the widget embedded by its one tag.

    The page is written into a document of the portal's origin (the one the tests allow
    to open widget sockets); Chromium treats a page Playwright made up from nothing as
    a public site and would block its connection to a local server.
    """
    attribute = f' data-token="{token}"' if token else ""
    html = (
        "<!doctype html><html lang='en'><head><title>Embedded</title></head><body>"
        "<main><h1>A page that embeds the widget</h1></main>"
        f"<script src='{stack.portal_url}/widget.js' data-chat-url='{stack.settings.chat_url}'"
        f"{attribute}></script></body></html>"
    )
    page.goto(f"{stack.portal_url}/health")
    page.set_content(html)
    page.wait_for_selector(".pc-launcher")
    if page.locator("#pc-panel").is_hidden():
        page.click(".pc-launcher")


# --- what the person asks, answered from the account services ---------------------------


def test_ben_asks_for_unpaid_invoices_and_sees_the_numbers_the_services_hold(
    page: Page, stack: Stack
) -> None:
    sign_in(page, stack, "ben.buyer@acme.example")
    open_chat(page)
    replies = ask(page, "show unpaid invoices")
    expected = unpaid_invoice_numbers(stack, "ben.buyer@acme.example")
    assert expected, "the demo world has unpaid invoices for Acme"
    table = page.locator(".pc-bot .pc-table").last
    shown = table.locator("tbody th .pc-id").all_inner_texts()
    assert sorted(shown) == sorted(expected)
    assert "Acme Corporation" in replies


def test_reorder_through_the_buttons_puts_the_order_in_the_cart(page: Page, stack: Stack) -> None:
    email = "sara.shopper@acme.example"
    sign_in(page, stack, email)
    cart_before = services_get(stack, email, "/cart")["items"]
    open_chat(page)
    summary = ask(page, "reorder my last order")
    order = re.search(r"\b(\d{9})\b", summary)
    assert order, summary
    confirm = page.locator(".pc-bot .pc-choice", has_text="Yes, confirm").last
    sent_before = page.locator(".pc-log .pc-user").count()
    confirm.click()
    page.wait_for_function(LAST_USER_SETTLED, arg=sent_before, timeout=REPLY_TIMEOUT_MS)
    done = str(page.evaluate(REPLIES_AFTER_LAST_USER))
    assert order.group(1) in done
    assert confirm.is_disabled(), "a choice acts once"
    cart_after = services_get(stack, email, "/cart")["items"]
    added = [i for i in cart_after if i["source_order_number"] == order.group(1)]
    assert added and len(cart_after) > len(cart_before)
    # The portal's own cart panel shows the same lines.
    page.click("#area-links a[href='#orders']")
    page.reload()
    page.wait_for_selector("[data-section=cart] table")
    cart_panel = page.locator("[data-section=cart] table").inner_text()
    assert all(item["sku"] in cart_panel for item in added)


def test_diego_converses_in_spanish(page: Page, stack: Stack) -> None:
    sign_in(page, stack, "diego.admin@globex.example")
    # The page's own tables head their columns in his language too, cased as the chat's.
    page.wait_for_selector("[data-section=orders] thead th")
    orders = page.locator("[data-section=orders] thead th").all_inner_texts()
    assert i18n.field_label("placed_on", "es") in orders  # "Fecha del pedido"
    assert page.locator(".pc-launcher").inner_text() == "Chatear con el asistente"
    open_chat(page)
    assert page.locator("#pc-input").get_attribute("placeholder") == "Pregunta por tu cuenta…"
    assert page.locator(".pc-status").inner_text() == "Conectado"
    replies = ask(page, "muéstrame las facturas pendientes")
    expected = unpaid_invoice_numbers(stack, "diego.admin@globex.example")
    assert "Globex México" in replies
    assert "factura" in replies.lower()
    shown = page.locator(".pc-bot .pc-table").last.locator("tbody th .pc-id").all_inner_texts()
    assert sorted(shown) == sorted(expected)


def test_switching_account_in_the_portal_moves_the_widget(page: Page, stack: Stack) -> None:
    email = "diego.admin@globex.example"
    sign_in(page, stack, email)
    open_chat(page)
    page.select_option("#account-switcher", "Acme Corporation")
    page.click("#switcher button[type=submit]")
    page.wait_for_function(
        "document.getElementById('account-name').textContent === 'Acme Corporation'"
    )
    page.wait_for_selector(".pc-system >> text=Ahora sobre Acme Corporation.")
    assert page.locator(".pc-account").inner_text() == "Acme Corporation"
    replies = ask(page, "muéstrame las facturas pendientes")
    assert "Acme Corporation" in replies
    shown = page.locator(".pc-bot .pc-table").last.locator("tbody th .pc-id").all_inner_texts()
    assert sorted(shown) == sorted(unpaid_invoice_numbers(stack, email, "Acme Corporation"))


def test_switching_account_in_the_chat_moves_the_portal(page: Page, stack: Stack) -> None:
    sign_in(page, stack, "diego.admin@globex.example")
    assert page.locator("#account-name").inner_text() == "Globex México"
    open_chat(page)
    replies = ask(page, "cámbiame a Acme")
    assert "Acme Corporation" in replies
    page.wait_for_function(
        "document.getElementById('account-name').textContent === 'Acme Corporation'"
    )
    assert page.locator("#role").inner_text() == "Comprador"
    # The page and the chat now agree: the next answer is about Acme too.
    replies = ask(page, "muéstrame las facturas pendientes")
    assert "Acme Corporation" in replies


def test_tables_show_the_headers_the_assistant_sent_in_the_conversations_language(
    page: Page, stack: Stack
) -> None:
    # Ben's page is in English; he writes in Spanish, so the assistant answers in Spanish.
    sign_in(page, stack, "ben.buyer@acme.example")
    open_chat(page)
    ask(page, "muéstrame mis pedidos recientes")
    headers = page.locator(".pc-bot .pc-table").last.locator("thead th").all_inner_texts()
    columns = ("item", "status", "placed_on", "total")
    # As the person sees them: in Spanish and cased as sent ("Fecha del pedido"), whatever
    # the widget's own language and the host page's CSS.
    assert headers == [i18n.field_label(name, "es") for name in columns]
    english = {i18n.field_label(name, "en") for name in columns} - set(headers)
    assert english and not english & set(headers)


WIDE_TABLE = """() => {
  const region = [...document.querySelectorAll('.pc-bot .pc-scroll')].pop();
  const last = [...region.querySelectorAll('thead th')].pop();
  const log = document.querySelector('.pc-log');
  const before = region.scrollLeft;
  region.scrollLeft = region.scrollWidth;
  const box = region.getBoundingClientRect(), lastBox = last.getBoundingClientRect();
  const seen = {
    role: region.getAttribute('role'), tabindex: region.getAttribute('tabindex'),
    label: region.getAttribute('aria-label'),
    scrollWidth: region.scrollWidth, clientWidth: region.clientWidth,
    panel: document.getElementById('pc-panel').getBoundingClientRect().width,
    logSpills: log.scrollWidth > log.clientWidth,
    page: document.documentElement.scrollWidth,
    startsAtLeft: before === 0,
    lastReached: lastBox.right <= box.right + 1 && lastBox.left >= box.left - 1,
    columns: region.querySelectorAll('thead th').length,
    cells: [...region.querySelectorAll('tbody tr')].map(r => r.children.length),
    // A title wraps between its words, never inside one (a squeezed column).
    squeezed: [...region.querySelectorAll('.pc-sub')].some(sub => {
      const line = parseFloat(getComputedStyle(sub).lineHeight);
      const lines = Math.round(sub.getBoundingClientRect().height / line);
      return lines > sub.textContent.trim().split(/\\s+/).length;
    }),
  };
  region.scrollLeft = 0;
  return seen;
}"""


def test_a_wide_table_scrolls_inside_its_bubble_and_the_panel_keeps_its_width(
    page: Page, stack: Stack
) -> None:
    sign_in(page, stack, "ben.buyer@acme.example")
    open_chat(page)
    panel = page.locator("#pc-panel").bounding_box()
    assert panel is not None
    ask(page, "show my addresses")
    for viewport in (None, {"width": 375, "height": 812}):
        if viewport:
            page.set_viewport_size(viewport)
        seen = page.evaluate(WIDE_TABLE)
        width = viewport["width"] if viewport else panel["width"]
        region = (seen["role"], seen["tabindex"], seen["label"])
        assert region == ("region", "0", "Acme Corporation"), "a named, focusable region"
        assert seen["scrollWidth"] > seen["clientWidth"], "the table is wider than its bubble"
        assert seen["panel"] == width and not seen["logSpills"], "the panel keeps its width"
        assert seen["page"] <= (viewport or {"width": 1280})["width"]
        assert seen["startsAtLeft"] and seen["lastReached"], "the last column can be scrolled to"
        assert set(seen["cells"]) == {seen["columns"]}, "no column is hidden"
        assert not seen["squeezed"], "no column is squeezed"
    # The keyboard scrolls it too: the region takes focus and the arrow keys move it.
    page.locator(".pc-bot .pc-scroll").last.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.pc-bot .pc-scroll')].pop().scrollLeft > 0"
    )


# --- the conversation survives reloads, restarts and later pushes ----------------------


def test_a_reload_keeps_the_conversation(page: Page, stack: Stack) -> None:
    sign_in(page, stack, "lena.buyer@initech.example")
    open_chat(page)
    ask(page, "show my devices")
    before = page.locator(".pc-log > li").all_inner_texts()
    page.reload()
    page.wait_for_selector(".pc-status[data-state=connected]")
    assert page.locator("#pc-panel").is_visible(), "an open chat stays open"
    page.wait_for_function(f"document.querySelectorAll('.pc-log > li').length >= {len(before)}")
    after = page.locator(".pc-log > li").all_inner_texts()
    assert after[-len(before) :] == before
    assert page.locator(".pc-bot .pc-table").count() >= 1, "tables come back as tables"


def test_a_message_pushed_later_appears_without_a_reload(page: Page, stack: Stack) -> None:
    email = "ana.admin@acme.example"
    sign_in(page, stack, email)
    open_chat(page)
    conversation = f"widget:{stack.services.user_id(email)}"

    async def push() -> int:
        async with RedisPushHub(REDIS_URL) as hub:
            return await hub.publish(conversation, {"text": "Hi Ana, this is Sam from support."})

    # The socket subscribes as it connects; publish once its process is listening. (In a
    # thread of its own: Playwright's sync API already runs an event loop in this one.)
    deadline = time.monotonic() + 15
    while ThreadPoolExecutor(1).submit(asyncio.run, push()).result() < 1:
        assert time.monotonic() < deadline, "nobody listens to the conversation"
        time.sleep(0.3)
    # Pushed as an agent's message: shown as the support team's, not the assistant's.
    page.wait_for_selector(".pc-agent >> text=Hi Ana, this is Sam from support.")
    live = page.locator(".pc-root [aria-live=polite]").inner_text()
    assert "Hi Ana, this is Sam from support." in live, "screen readers hear it"


def test_the_widget_reconnects_after_a_rasa_restart_and_a_failed_message_can_be_retried(
    page: Page, stack: Stack
) -> None:
    sign_in(page, stack, "hannah@home.example")
    open_chat(page)
    ask(page, "show my devices")
    rasa = stack.processes[1]
    rasa.terminate()
    rasa.wait(timeout=30)
    page.wait_for_selector(".pc-status[data-state=reconnecting]")
    page.fill("#pc-input", "show my orders")
    page.press("#pc-input", "Enter")
    failed = page.locator(".pc-user[data-state=failed]").last
    failed.wait_for()
    assert failed.locator(".pc-retry").is_visible()
    stack.restart_rasa()
    page.wait_for_selector(".pc-status[data-state=connected]", timeout=90_000)
    # What the conversation held is shown again, and the failed message is still there.
    assert page.locator(".pc-bot").count() >= 1
    sent_before = page.locator(".pc-log .pc-user").count() - 1
    failed.locator(".pc-retry").click()
    page.wait_for_function(
        "() => !document.querySelector('.pc-user[data-state=failed]')", timeout=REPLY_TIMEOUT_MS
    )
    page.wait_for_function(LAST_USER_SETTLED, arg=sent_before, timeout=REPLY_TIMEOUT_MS)
    replies = str(page.evaluate(REPLIES_AFTER_LAST_USER))
    orders = services_get(stack, "hannah@home.example", "/orders")
    assert "Hannah Home" in replies or any(o["number"] in replies for o in orders), replies


# --- who may talk: expired, forged, anonymous ------------------------------------------


def test_an_expired_token_gets_the_sign_in_prompt(page: Page, stack: Stack) -> None:
    email = "ben.buyer@acme.example"
    # Valid when the widget connects, expired before the person sends a message.
    token = stack.services.token(email, ttl=dt.timedelta(seconds=4), channel="portal")
    embed(page, stack, token)
    page.wait_for_selector(".pc-status[data-state=connected]")
    page.wait_for_timeout(4500)
    page.fill("#pc-input", "show unpaid invoices")
    page.press("#pc-input", "Enter")
    prompt = page.locator(".pc-system").last
    prompt.wait_for()
    assert domain_text("utter_session_expired") in prompt.inner_text()
    assert prompt.locator("a", has_text="Sign in again").get_attribute("href").endswith("/sign-in")
    assert page.locator(".pc-status").get_attribute("data-state") == "signedOut"
    # The question got the prompt and nothing else (the history shown at connect, while
    # the token was still valid, may hold earlier answers).
    page.wait_for_timeout(1500)
    answer = str(page.evaluate(REPLIES_AFTER_LAST_USER))
    assert answer == prompt.inner_text()
    assert not any(n in answer for n in unpaid_invoice_numbers(stack, email))
    # A token already expired when the page opens is refused with the same prompt.
    expired = stack.services.token(
        email,
        ttl=dt.timedelta(minutes=1),
        now=dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(minutes=5),
    )
    embed(page, stack, expired)
    page.locator(".pc-system", has_text=domain_text("utter_session_expired")).wait_for()


def test_a_forged_token_gets_nothing(page: Page, stack: Stack) -> None:
    email = "ben.buyer@acme.example"
    forger_key, _ = tokens.generate_key_pair()
    forged = tokens.mint_token(
        forger_key,
        user_id=stack.services.user_id(email),
        account_id=stack.services.account_id("Acme Corporation"),
    )
    embed(page, stack, forged)
    page.wait_for_selector(".pc-status[data-state=refused]")
    page.fill("#pc-input", "show unpaid invoices")
    page.press("#pc-input", "Enter")
    page.locator(".pc-user[data-state=failed]").wait_for()
    page.wait_for_timeout(1500)
    assert page.locator(".pc-bot").count() == 0
    assert not any(n in page.content() for n in unpaid_invoice_numbers(stack, email))


def test_an_anonymous_visitor_gets_only_public_answers(page: Page, stack: Stack) -> None:
    page.goto(f"{stack.portal_url}/visitor")
    page.click(".pc-launcher")
    page.wait_for_selector(".pc-status[data-state=connected]")
    assert page.locator(".pc-account").inner_text() == "Not signed in: public answers only"
    denied = ask(page, "show unpaid invoices")
    assert domain_text("utter_sign_in_required") in denied
    assert not any(
        n in page.content() for n in unpaid_invoice_numbers(stack, "ben.buyer@acme.example")
    )
    contacts = services_public(stack, "/support-contacts")
    public = ask(page, "how do I contact premier support")
    assert any(contact["phone"] in public for contact in contacts), public


def services_public(stack: Stack, path: str) -> List[Dict[str, Any]]:
    answer = httpx.get(f"{stack.services.base_url}{path}", timeout=30)
    answer.raise_for_status()
    result: List[Dict[str, Any]] = answer.json()
    return result


# --- bad input ---------------------------------------------------------------------------


def test_html_in_a_message_is_shown_as_text_and_never_runs(page: Page, stack: Stack) -> None:
    sign_in(page, stack, "eve.rep@vendor.example")
    open_chat(page)
    attack = (
        "<img src=x onerror=\"window.__pwned=1;alert('xss')\"> <script>window.__pwned=2</script>"
    )
    ask(page, attack)
    assert page.locator(".pc-user .pc-text").last.inner_text() == attack
    assert page.locator(".pc-log img, .pc-log script").count() == 0
    assert page.evaluate("window.__pwned") is None
    assert page.dialogs == []  # type: ignore[attr-defined]


def test_floods_oversized_and_binary_messages_are_refused_with_a_notice(
    page: Page, stack: Stack
) -> None:
    sign_in(page, stack, "eve.rep@vendor.example")
    open_chat(page)
    # Over the size limit in the widget itself: a notice, nothing sent.
    page.evaluate("document.getElementById('pc-input').value = 'x'.repeat(2500)")
    page.press("#pc-input", "Enter")
    assert "too long" in page.locator(".pc-notice").inner_text()
    # The server refuses the same things from a raw socket that skips the widget's checks.
    token = page.evaluate("fetch('/api/session').then(r => r.json()).then(s => s.token)")
    answers = page.evaluate(
        """async ([url, token]) => {
          const socket = io(url, {path: '/widget/socket.io', transports: ['websocket'],
                                  auth: {token}});
          await new Promise(ok => socket.on('connect', ok));
          const send = (payload) => socket.timeout(60000).emitWithAck('user_uttered', payload);
          const result = {
            oversized: await send({message: 'x'.repeat(2500), token}),
            binary: await send({message: new Uint8Array([0, 159, 146, 150]).buffer, token}),
          };
          socket.disconnect();
          return result;
        }""",
        [stack.settings.chat_url, token],
    )
    assert answers["oversized"] == {"ok": False, "code": "too_long"}
    assert answers["binary"] == {"ok": False, "code": "bad_message"}
    # A flood from one connection: the first few go through, the rest get a clear notice.
    page.evaluate(
        """() => { const input = document.getElementById('pc-input');
                   const form = document.querySelector('.pc-form');
                   for (let i = 0; i < 15; i++) { input.value = 'hello ' + i;
                                                 form.requestSubmit(); } }"""
    )
    page.locator(".pc-notice >> text=You're sending messages too fast").wait_for()
    # Every answer is in (the refusals at once, the accepted ones after their turns).
    page.wait_for_function(
        "() => !document.querySelector('.pc-user[data-state=sending]')", timeout=REPLY_TIMEOUT_MS
    )
    refused = page.locator(".pc-user[data-state=failed]")
    assert refused.count() >= 15 - BURST - 1, "a burst passes, the rest of the flood does not"
    assert refused.first.locator(".pc-retry").is_visible()
    assert page.locator(".pc-user[data-state=sent]").count() >= BURST - 1


# --- phone, keyboard, screen reader -------------------------------------------------------


def test_a_phone_sized_screen_works(browser: Browser, stack: Stack) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    phone = context.new_page()
    try:
        sign_in(phone, stack, "ben.buyer@acme.example")
        phone.tap(".pc-launcher")
        phone.wait_for_selector(".pc-status[data-state=connected]")
        panel = phone.locator("#pc-panel").bounding_box()
        assert panel is not None and panel["width"] == 390 and panel["height"] == 844
        replies = ask(phone, "show my orders")
        assert "Acme Corporation" in replies
        send = phone.locator(".pc-send").bounding_box()
        assert send is not None and send["x"] + send["width"] <= 390
        assert send["y"] + send["height"] <= 844
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        phone.tap(".pc-close")
        assert phone.locator("#pc-panel").is_hidden()
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        phone.screenshot(path=str(ARTIFACTS / "test_a_phone_sized_screen_works.png"))
        context.close()


def focused(page: Page) -> str:
    return str(
        page.evaluate(
            "() => { const e = document.activeElement; return (e.className || e.tagName) + '|' +"
            " (e.getAttribute('data-email') || e.id || e.textContent.trim().slice(0, 40)); }"
        )
    )


def tab_to(page: Page, wanted: str, *, backwards: bool = False, limit: int = 60) -> None:
    for _ in range(limit):
        if wanted in focused(page):
            return
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
    raise AssertionError(f"{wanted} cannot be reached by keyboard (last: {focused(page)})")


def test_keyboard_alone_reaches_and_operates_every_control(page: Page, stack: Stack) -> None:
    page.goto(f"{stack.portal_url}/sign-in")
    page.wait_for_selector("button.person")
    tab_to(page, "diego.admin@globex.example")
    page.keyboard.press("Enter")
    page.wait_for_function(SHOWS_AN_ACCOUNT)
    page.wait_for_selector("#area .panel")
    # The portal: an area link and the account switcher.
    tab_to(page, "|Facturas")
    page.keyboard.press("Enter")
    page.wait_for_selector("#area[data-area=invoices]")
    tab_to(page, "account-switcher", backwards=True)
    page.keyboard.press("ArrowDown")
    tab_to(page, "|Cambiar")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "document.getElementById('account-name').textContent === 'Acme Corporation'"
    )
    # The widget: launcher, message box, choice buttons, close with Escape.
    tab_to(page, "pc-launcher")
    page.keyboard.press("Enter")
    assert "pc-input" in focused(page), "opening the chat puts the cursor in the message box"
    page.wait_for_selector(".pc-status[data-state=connected]")
    sent_before = page.locator(".pc-log .pc-user").count()
    page.keyboard.type("repite mi último pedido")
    page.keyboard.press("Enter")
    page.wait_for_function(LAST_USER_SETTLED, arg=sent_before, timeout=REPLY_TIMEOUT_MS)
    tab_to(page, "pc-choice|No", backwards=True)
    sent_before = page.locator(".pc-log .pc-user").count()
    page.keyboard.press("Enter")
    page.wait_for_function(LAST_USER_SETTLED, arg=sent_before, timeout=REPLY_TIMEOUT_MS)
    assert page.locator(".pc-user .pc-text").last.inner_text() == "No"
    page.keyboard.press("Escape")
    assert page.locator("#pc-panel").is_hidden()
    assert "pc-launcher" in focused(page), "closing the chat returns focus to the launcher"


def test_no_serious_or_critical_accessibility_violations(page: Page, stack: Stack) -> None:
    page.goto(f"{stack.portal_url}/sign-in")
    page.wait_for_selector("button.person")
    found = {"sign-in page": axe_violations(page)}
    sign_in(page, stack, "ben.buyer@acme.example")
    open_chat(page)
    ask(page, "show unpaid invoices")
    page.wait_for_selector(".pc-bot .pc-table")
    found["home page with the chat open"] = axe_violations(page)
    assert found == {"sign-in page": [], "home page with the chat open": []}


def axe_violations(page: Page) -> List[str]:
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map("
        "v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))})))"
    )
    return [
        f"{v['id']} ({v['impact']}): {', '.join(v['nodes'][:3])}"
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]
