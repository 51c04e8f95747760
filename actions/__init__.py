"""Rasa custom actions, one module per business area; rasa-sdk registers every subclass."""
