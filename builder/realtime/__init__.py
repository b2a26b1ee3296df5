"""Realtime transport: Channels consumers and event fan-out. Transport only, no business rules."""
