"""A confirmation acts only on exactly what was shown: same seal, person and account, in time."""

from __future__ import annotations

import time

from actions import changes
from actions.account import ActionSwitchAccount
from actions.changes import ActionConfirmChange
from actions.orders import ActionReorder
from tests.actions.harness import entity
from tests.actions.test_orders import cart_rows

DIEGO = "diego.admin@globex.example"
BEN = "ben.buyer@acme.example"
SENDER = "test-conversation"  # the harness's conversation id


async def test_a_change_proposed_in_one_account_never_runs_in_another(services, run):
    token = services.token(DIEGO, "Acme Corporation")
    proposed = await run(ActionReorder(), token)
    pending = proposed.slot("pending_change")
    assert pending["account_id"] == services.account_id("Acme Corporation")
    before = cart_rows(services, DIEGO)
    # The page moved to Globex while the change waited: "yes" does nothing, and says why.
    globex = services.token(DIEGO, "Globex México")
    done = await run(ActionConfirmChange(), globex, slots={"pending_change": pending})
    assert done.responses == ["utter_pending_change_other_account"]
    assert done.slot("pending_change") is None
    assert cart_rows(services, DIEGO) == before


async def test_switching_account_drops_the_waiting_change(services, run):
    token = services.token(DIEGO, "Acme Corporation")
    pending = (await run(ActionReorder(), token)).slot("pending_change")
    switched = await run(
        ActionSwitchAccount(),
        token,
        entities=[entity("account_name", "Globex")],
        slots={"pending_change": pending},
    )
    assert "utter_pending_change_dropped" in switched.responses
    assert switched.slot("pending_change") is None


async def test_a_tampered_change_is_refused(services, run):
    token = services.token(BEN)
    pending = (await run(ActionReorder(), token)).slot("pending_change")
    before = cart_rows(services, BEN)
    tampered = {**pending, "params": {**pending["params"], "order_number": "100000003"}}
    done = await run(ActionConfirmChange(), token, slots={"pending_change": tampered})
    assert done.responses == ["utter_pending_change_unknown"]
    unsealed = {k: v for k, v in pending.items() if k != "seal"}
    done = await run(ActionConfirmChange(), token, slots={"pending_change": unsealed})
    assert done.responses == ["utter_pending_change_unknown"]
    assert cart_rows(services, BEN) == before


async def test_a_change_the_server_never_proposed_in_this_conversation_is_refused(services, run):
    token = services.token(BEN)
    pending = (await run(ActionReorder(), token)).slot("pending_change")
    # The same change, sealed for another conversation, is not this conversation's.
    elsewhere = {**pending, "seal": changes._seal("portal:999", pending)}
    done = await run(ActionConfirmChange(), token, slots={"pending_change": elsewhere})
    assert done.responses == ["utter_pending_change_unknown"]


async def test_a_change_that_waited_too_long_is_dropped(services, run):
    token = services.token(BEN)
    pending = dict((await run(ActionReorder(), token)).slot("pending_change"))
    before = cart_rows(services, BEN)
    pending["proposed_at"] = int(time.time()) - (changes.PENDING_MINUTES * 60 + 5)
    pending["seal"] = changes._seal(SENDER, pending)
    done = await run(ActionConfirmChange(), token, slots={"pending_change": pending})
    assert done.responses == ["utter_pending_change_expired"]
    assert done.slot("pending_change") is None
    assert cart_rows(services, BEN) == before
