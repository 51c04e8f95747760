"""The conversation layer every channel uses: identity, conversations, metadata, replies, push."""
