"""Stand-ins for the third-party APIs Hookline delivers to, for the demo and the tests.

Each module is a small aiohttp application that behaves as its vendor documents
(requests, answers, errors, throttling) and counts the writes it performs, so that
``make run`` and ``docker compose up`` show deliveries without real accounts, and the
test suite can check effects. Run one with ``python -m sandbox.<module> PORT``.
Nothing in Hookline's services imports this package.
"""
