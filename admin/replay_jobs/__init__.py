"""Bulk replay of dead letters by filter, as tracked, resumable, cancellable jobs."""
