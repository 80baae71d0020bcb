"""Connectors: deliver normalised changes to external systems, surviving their failures.

A connector is one consumer group on one or more normalised topics plus a destination
module behind a tiny interface (:mod:`connectors.destinations.base`). The runner
(:mod:`connectors.runner`) owns everything else: consuming, change detection, conflict
policies, retries through a retry topic, the circuit breaker, the shared rate limit, dead
letters, offsets, audit and metrics. ``docs/connectors.md`` describes the design.

Guarantees: a source offset is committed only after its record's outcome is durable
(applied and its state written, skipped, written to the retry topic, or dead-lettered),
so a crash re-delivers, and re-delivery is harmless (idempotency keys derived from the
CloudEvent ``id``, state hashes in PostgreSQL). An older change never overwrites a newer
one. One connector's failure never blocks another (separate groups and tasks).
"""
