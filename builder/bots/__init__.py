"""Bots: a mutable draft graph, immutable published versions, sharing, import/export."""
