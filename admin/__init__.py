"""The operators' admin REST API: find, understand and replay every failure.

A service of its own (``hookline admin``), on the same settings root and PostgreSQL as the
pipeline; it imports only ``hookline`` and ``schemas``. See docs/admin-api.md.
"""
