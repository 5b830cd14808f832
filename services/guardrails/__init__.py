"""Guardrails service: judges every prediction against a versioned policy and produces the enriched stream."""
