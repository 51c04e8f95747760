"""The demo portal: the account home page with the chat widget (`python -m bot.portal`)."""
