"""Shared ground: base model, error hierarchy and its DRF handler, pagination, health checks."""
