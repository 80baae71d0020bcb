"""Connectors: status from what the running instances write, pause and resume."""
