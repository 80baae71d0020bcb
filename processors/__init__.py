"""Processors: dedupe raw webhook events and normalise them into canonical CloudEvents."""
