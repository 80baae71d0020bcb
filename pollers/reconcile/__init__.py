"""Sync verification: compare the same entities across systems, record and repair drift
(docs/pollers.md, "Reconciliation")."""
