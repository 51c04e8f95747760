"""The Slack app: the same assistant for employees in Slack (slack-bolt, async).

Its own process (`python -m bot.slack`, started by `make run` when configured), and only a
transport on the conversation layer:

    Slack --signed request--> app.py (bolt verifies the signing secret; a repeated event is
      │                        dropped by the event id; every request is acknowledged at once)
      ├─ listeners/            messages (DMs, @mentions and their threads), the /premier
      │                        command, buttons, the App Home tab: each `register(app, tools)`
      ├─ people.py             (team, Slack user) -> the person's token, exchanged at the
      │                        account services with the app's own credential (it cannot mint)
      ├─ assistant.py          the turn through Rasa's `slack_bridge` channel: the layer
      │                        verifies the token and gives each thread its own conversation
      ├─ blocks.py             the structured replies as Block Kit
      ├─ conversation.py       where an answer goes: the DM, the thread, or the asker alone
      ├─ relay.py              messages pushed into a conversation later, posted where it lives
      └─ desk.py               the handoff desk: new handoffs in SLACK_SUPPORT_CHANNEL with a
                               Claim button; the claimer's thread relays both ways; close there

What the app says itself (not linked, App Home) is in `texts.yml`; every answer comes from
the assistant's domain.
"""

NOT_CONFIGURED = (
    "Slack app: not started - set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET in .env to add it "
    "(README, section Slack)"
)
