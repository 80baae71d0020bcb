"""Polling sync and backfill: sources read by their APIs into the raw topic, beside webhooks."""
