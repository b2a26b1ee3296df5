"""Conversations, messages and runs: ``message_send`` orchestrates one bot turn."""
