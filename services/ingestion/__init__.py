"""Ingestion: raw turns in, validated, normalized, deduplicated turns out (plus an HTTP front door)."""
