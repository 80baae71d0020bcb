"""One consumed record to one durable outcome (see :class:`~connectors.metrics.Outcome`).

::

    decode ─✗─▶ dead letter (stage "decode")
    partial snapshot? its carried fields are merged onto the state applied before
    wants? ─✗─▶ skipped_unwanted      (wants or state_for raising: dead letter, "transform")
    judge (connectors.conflicts) ─▶ skipped_unchanged | skipped_stale | conflict
        (a record resolving a conflict, header hookline-conflict-resolution, written by
        the admin API: not judged; applied unless its state is the one applied already)
    breaker permit ▶ rate-limit token ▶ destination.apply(change, idempotency key)
        ok ────────────▶ state written ▶ applied
        retriable ─────▶ breaker now open? wait for the probe, no attempt spent
                         else attempts left? retry topic (due in backoff) ▶ retried
                         else dead letter ▶ dead_lettered
        permanent ─────▶ dead letter (stage "deliver") ▶ dead_lettered

The idempotency key is derived from the connector name and the CloudEvent ``id``, so every
attempt and every re-delivery of a change carries the same key.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
from pydantic import ValidationError

from connectors.alerts import Alert, Alerter
from connectors.backoff import retry_delay, should_retry
from connectors.breaker import BreakerGate, Permit
from connectors.config import ConnectorConfig
from connectors.conflicts import AppliedState, Judgement, Verdict, judge
from connectors.destinations.base import Applied, Change, Destination, identity_of, observes
from connectors.errors import DeliveryError, PermanentError, RetriableError
from connectors.metrics import ConnectorMetrics, Outcome
from connectors.ratelimit import TokenBucket
from connectors.retry_tiers import placement, wake_header
from connectors.retry_topic import RetryInfo, original_record, retry_headers
from connectors.state import StateStore
from hookline.dead_letter import SourceRecord, build_context, send_dead_letter
from hookline.kafka_clients import AsyncProducer
from hookline.logs import get_logger
from hookline.topics import Topics
from hookline.tracing import TRACESTATE, Tracer, header, span
from schemas.events import CloudEvent
from schemas.ids import uuid5_text
from schemas.retry import CONFLICT_RESOLUTION_HEADER

log = get_logger("hookline.connectors")

#: Outcomes after which a change's subject state is known (not stale, not pending).
_HEARD = frozenset({Outcome.APPLIED, Outcome.SKIPPED_UNCHANGED, Outcome.CONFLICT})
_KEY_NAMESPACE = uuid.UUID("0c4b9a52-6f1e-4d3a-8b7c-2e5f9d1a3c60")  # fixed: keys depend on it
_SOURCE_PREFIX = "/hookline/"


def idempotency_key(connector: str, event_id: str) -> str:
    return uuid5_text(_KEY_NAMESPACE, f"{connector}\x1f{event_id}")


def state_hash(state: Mapping[str, Any]) -> str:
    return hashlib.sha256(encode_state(state)).hexdigest()


def encode_state(state: Mapping[str, Any]) -> bytes:
    """The state as JSON with sorted keys: what is hashed, and sent and stored as is."""
    return orjson.dumps(state, option=orjson.OPT_SORT_KEYS)


def carried_fields(state: Mapping[str, Any]) -> dict[str, Any]:
    """The fields a partial snapshot carries: unset (null, empty) ones are unknown."""
    return {k: v for k, v in state.items() if v is not None and v not in ("", [], {})}


@dataclass(frozen=True, slots=True)
class Inbound:
    """A consumed record, decoded as far as it goes."""

    record: SourceRecord
    event: CloudEvent | None
    problem: str | None  # why it is not a CloudEvent
    retry: RetryInfo | None  # set on records of the retry topic
    #: A person resolved a conflict this way: deliver it, whatever the policy says.
    resolves: bool = False

    @property
    def attempt(self) -> int:
        return self.retry.attempt if self.retry else 1

    @property
    def key(self) -> str:
        if self.event is not None:
            return self.event.subject
        return (self.record.key or b"").decode(errors="replace")

    @classmethod
    def decode(cls, record: SourceRecord, retry_topics: Collection[str]) -> Inbound:
        retry = RetryInfo.from_headers(record.headers) if record.topic in retry_topics else None
        resolves = any(name == CONFLICT_RESOLUTION_HEADER for name, _ in record.headers)
        try:
            event = CloudEvent.model_validate_json(record.value)
        except ValidationError as exc:
            return cls(record, None, f"{exc.error_count()} validation errors", retry, resolves)
        return cls(record, event, None, retry, resolves)


class KeyLocks:
    """One asyncio lock per key, kept while someone holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            users = self._locks[key][1] - 1
            if users:
                self._locks[key] = (lock, users)
            else:
                del self._locks[key]


@dataclass(frozen=True, slots=True)
class Services:
    """What a connector instance's deliveries share."""

    config: ConnectorConfig
    destination: Destination
    states: StateStore
    limiter: TokenBucket | None
    gate: BreakerGate
    producer: AsyncProducer
    topics: Topics
    metrics: ConnectorMetrics
    alerter: Alerter
    draw: Callable[[], float]  # uniform in [0, 1): the backoff's jitter
    tracer: Tracer = field(default_factory=Tracer)  # spans per delivery (hookline.tracing)


class Deliverer:
    def __init__(self, services: Services) -> None:
        self._s = services
        self._name = services.config.name
        self._locks = KeyLocks()
        # Calls in flight, not changes: a change whose call returned frees its slot while
        # its state is group-committed, so the destination always has ``concurrency``
        # calls to answer (the state write no longer adds to every call's turn).
        self._slots = asyncio.Semaphore(services.config.concurrency)

    async def deliver(self, item: Inbound, cache: dict[str, AppliedState]) -> Outcome:
        """Take ``item`` to a durable outcome; ``cache`` holds the batch's applied states.

        One span per attempt, continuing the record's ``traceparent`` header (else the
        event's ``traceparent`` attribute) and its ``tracestate``: its log lines carry the
        trace id and the destination's HTTP calls send the span's ``traceparent`` and
        ``tracestate`` (connectors.http)."""
        event = item.event
        parent = header(item.record.headers) or (event.traceparent if event else None)
        state = header(item.record.headers, TRACESTATE) or (event.tracestate if event else None)
        with span(self._s.tracer, f"deliver {self._name}", parent, kind="consumer", state=state):
            return await self._deliver(item, cache)

    async def _deliver(self, item: Inbound, cache: dict[str, AppliedState]) -> Outcome:
        if item.retry is not None and item.retry.due_ms > time.time() * 1000:
            await self._send_retry(item, item.retry)  # woke up in a tier, not due yet
            return Outcome.RESCHEDULED
        event = item.event
        if event is None:
            error = PermanentError(f"not a CloudEvent: {item.problem}")
            return await self._dead_letter(item, error, stage="decode")
        destination = self._s.destination
        try:
            own = not destination.wants(event) and not item.resolves
            if own and not observes(destination, event):
                return Outcome.SKIPPED_UNWANTED
            change = self._change(event, cache.get(event.subject))
            identity = identity_of(destination, change)
        except Exception as exc:  # a mapping bug must not stop the connector on this record
            error = PermanentError(f"{type(exc).__name__}: {exc}")
            return await self._dead_letter(item, error, stage="transform")
        if identity == change.entity_key:  # the runner delivers one subject at a time
            return await self._settle(item, change, change, own, cache)
        # Changes of one person arrive under several subjects: one at a time per identity.
        async with self._locks.hold(identity):
            if identity not in cache:
                cache.update(await self._s.states.load([identity]))
            keyed = replace(change, entity_key=identity)
            return await self._settle(item, change, keyed, own, cache)

    async def _settle(
        self,
        item: Inbound,
        change: Change,
        keyed: Change,
        own: bool,
        cache: dict[str, AppliedState],
    ) -> Outcome:
        """Judge ``keyed`` (``change`` under its identity) and act; ``own``: a change of
        the destination's own system, observed, not pushed (unless a conflict says so)."""
        prior = cache.get(keyed.entity_key)
        judgement = self._judge(item, keyed, prior)
        if judgement.conflict and prior is not None:
            await self._conflict(item, change, keyed, prior, judgement)
        if own:
            outcome = await self._observe(item, keyed, prior, judgement)
        else:
            outcome = await self._act(item, keyed, prior, judgement.verdict)
        applied = AppliedState(keyed.state_hash, keyed.version, keyed.source, dict(keyed.state))
        if outcome is Outcome.APPLIED or (own and judgement.verdict is Verdict.APPLY):
            cache[keyed.entity_key] = applied
        elif outcome is Outcome.SKIPPED_UNCHANGED and prior is not None:
            newest = max(keyed.version, prior.version or keyed.version)
            cache[keyed.entity_key] = replace(prior, version=newest)
        if keyed is not change and outcome in _HEARD:
            await self._remember_subject(change, cache)
        return outcome

    def _judge(self, item: Inbound, keyed: Change, prior: AppliedState | None) -> Judgement:
        if item.resolves:  # a person decided: only a repeat of the applied state is skipped
            same = prior is not None and prior.state_hash == keyed.state_hash
            return Judgement(Verdict.UNCHANGED if same else Verdict.APPLY)
        conflict = self._s.config.conflict
        return judge(
            prior,
            keyed.state_hash,
            keyed.version,
            keyed.source,
            conflict,
            incoming_state=keyed.state,
        )

    async def _remember_subject(self, change: Change, cache: dict[str, AppliedState]) -> None:
        """Keep what this subject's source said, whatever the identity's verdict: the base
        its next partial change merges onto."""
        known = cache.get(change.entity_key)
        if known is not None and known.state_hash == change.state_hash:
            return
        await self._s.states.save(change)
        cache[change.entity_key] = AppliedState(
            change.state_hash, change.version, change.source, dict(change.state)
        )

    async def _observe(
        self, item: Inbound, change: Change, prior: AppliedState | None, judgement: Judgement
    ) -> Outcome:
        """The destination's own change: it holds this state already. Recorded (outcome
        skipped_unchanged), unless a conflict's policy says otherwise: a winning own
        change is pushed (it may have been overwritten by the loser in the meantime), a
        losing one makes the winner's state be pushed back."""
        verdict = judgement.verdict
        if verdict in (Verdict.UNCHANGED, Verdict.STALE, Verdict.HOLD):
            return await self._act(item, change, prior, verdict)
        if verdict is Verdict.REJECT:
            if prior is None or prior.state is None:
                return Outcome.CONFLICT
            winner = replace(change, state=prior.state, state_hash=prior.state_hash, encoded=None)
            outcome = await self._push(item, winner, save=False)
            return Outcome.CONFLICT if outcome is Outcome.APPLIED else outcome
        if judgement.conflict:
            return await self._push(item, change)
        await self._s.states.save(change)
        return Outcome.SKIPPED_UNCHANGED

    async def _act(
        self, item: Inbound, change: Change, prior: AppliedState | None, verdict: Verdict
    ) -> Outcome:
        if verdict is Verdict.UNCHANGED:
            if prior is not None and (prior.version is None or change.version > prior.version):
                await self._s.states.advance(change)  # a later change in between is stale
            return Outcome.SKIPPED_UNCHANGED
        if verdict is Verdict.STALE:
            return Outcome.SKIPPED_STALE
        if verdict in (Verdict.REJECT, Verdict.HOLD):
            return Outcome.CONFLICT  # recorded in conflicts by _conflict
        return await self._push(item, change)

    def _change(self, event: CloudEvent, prior: AppliedState | None) -> Change:
        state = self._s.destination.state_for(event)
        patch = carried_fields(state) if event.data.partial else None
        if patch is not None:
            state = {**(prior.state or {}), **patch} if prior is not None else dict(patch)
        encoded = encode_state(state)  # once per change: hashed, sent, stored
        return Change(
            entity_key=event.subject,
            family=event.family,
            entity_id=event.data.id,
            state=state,
            state_hash=hashlib.sha256(encoded).hexdigest(),
            version=event.data.updated_at,
            source=event.source.removeprefix(_SOURCE_PREFIX),
            event_id=event.id,
            event_type=event.type,
            patch=patch,
            encoded=encoded,
        )

    async def _push(self, item: Inbound, change: Change, save: bool = True) -> Outcome:
        key = idempotency_key(self._name, change.event_id)
        applied = await self._call_through_breaker(change, key)
        if isinstance(applied, DeliveryError):
            return await self._after_failure(item, applied)
        if save:
            await self._s.states.save(change)
        if applied is not None and applied.rate_limit is not None and self._s.limiter:
            await self._s.limiter.observe(applied.rate_limit)
        return Outcome.APPLIED

    async def _call_through_breaker(
        self, change: Change, key: str
    ) -> Applied | DeliveryError | None:
        """Call in a slot (the breaker's permit taken inside it, so a change waiting for a
        slot while the breaker opened does not call); the error that ends the attempt."""
        gate = self._s.gate
        async with self._slots:  # kept while waiting for the probe: the held change is it
            while True:
                permit = await gate.acquire()
                try:
                    applied = await self._call(change, key)
                except DeliveryError as error:
                    if self._breaker_holds(permit, error):
                        continue  # the change waits for the probe; no attempt is spent
                    return error
                except BaseException:
                    gate.breaker.release(permit)
                    raise
                gate.breaker.record_success(permit)
                return applied

    async def _call(self, change: Change, key: str) -> Applied | None:
        limiter = self._s.limiter
        if limiter is not None:
            await limiter.acquire()
        try:
            return await self._s.destination.apply(change, key)
        except DeliveryError as error:
            if limiter is not None:
                await limiter.observe(error.rate_limit, throttled=error.status == 429)
            raise
        except Exception as exc:  # a destination bug must not stop the connector
            raise PermanentError(f"{type(exc).__name__}: {exc}") from exc

    def _breaker_holds(self, permit: Permit, error: DeliveryError) -> bool:
        """Tell the breaker; True when it is open now, so the change waits for the probe.

        A permanent error or a 429 shows the destination answering: a success here."""
        breaker = self._s.gate.breaker
        if isinstance(error, RetriableError) and error.status != 429:
            breaker.record_failure(permit)
        else:
            breaker.record_success(permit)
        holds = isinstance(error, RetriableError) and self._s.gate.is_open
        if holds:
            log.info("change waits for the breaker", connector=self._name, error=str(error))
        return holds

    async def _after_failure(self, item: Inbound, error: DeliveryError) -> Outcome:
        if isinstance(error, RetriableError) and should_retry(self._s.config.retry, item.attempt):
            await self._schedule_retry(item, error)
            return Outcome.RETRIED
        return await self._dead_letter(item, error, stage="deliver")

    async def _schedule_retry(self, item: Inbound, error: RetriableError) -> None:
        delay = retry_delay(self._s.config.retry, item.attempt, error.retry_after, self._s.draw)
        first = original_record(item.record, item.retry)
        info = RetryInfo(
            attempt=item.attempt + 1,
            due_ms=int((time.time() + delay) * 1000),
            topic=first.topic,
            partition=first.partition,
            offset=first.offset,
            last_status=error.status,
            last_error=str(error)[:200],
        )
        await self._send_retry(item, info)
        log.info(
            "change scheduled for retry",
            connector=self._name,
            entity=item.key,
            attempt=info.attempt,
            delay_seconds=round(delay, 3),
            status=error.status,
        )

    async def _send_retry(self, item: Inbound, info: RetryInfo) -> None:
        """Write the record to the retry topic of its remaining time (retry_tiers)."""
        topic, wake_ms = placement(self._s.topics, self._name, info.due_ms, int(time.time() * 1000))
        record = item.record
        await self._s.producer.send(
            topic,
            value=record.value,
            key=record.key,
            headers=[*retry_headers(record, info), wake_header(wake_ms)],
            timestamp=record.timestamp_ms,
        )

    async def _dead_letter(self, item: Inbound, error: DeliveryError, stage: str) -> Outcome:
        original = original_record(item.record, item.retry)
        context = build_context(
            original,
            stage=stage,
            component=self._name,
            error=error,
            attempts=item.attempt,
            http_status=error.status,
            http_body=error.body,
        )
        topic = self._s.topics.connector_dead_letter(self._name)
        await send_dead_letter(self._s.producer, topic, original, context)
        details = {"entity": item.key, "status": error.status, "error": str(error)[:200]}
        log.warning("change dead-lettered", connector=self._name, attempts=item.attempt, **details)
        summary = f"{self._name}: a change was dead-lettered to {topic}"
        await self._s.alerter.alert(Alert(self._name, "dead_letter", summary, details))
        return Outcome.DEAD_LETTERED

    async def _conflict(
        self,
        item: Inbound,
        change: Change,
        keyed: Change,
        prior: AppliedState,
        judgement: Judgement,
    ) -> None:
        """Log, count and record a conflict (``conflicts``: held ones open, the others
        with how the policy resolved them), with the CloudEvent, for a later resolution."""
        policy = self._s.config.conflict.policy
        resolution = {Verdict.APPLY: "applied", Verdict.REJECT: "rejected"}.get(
            judgement.verdict, "held"
        )
        self._s.metrics.conflicts.labels(self._name, policy, resolution).inc()
        log.warning(
            "conflict",
            connector=self._name,
            entity=change.entity_key,
            policy=policy,
            resolution=resolution,
            incoming_source=change.source,
            incoming_version=change.version.isoformat(),
            applied_source=prior.source,
            applied_version=prior.version.isoformat() if prior.version else None,
            event_id=change.event_id,
        )
        status = "open" if resolution == "held" else resolution
        event = item.event.model_dump(mode="json") if item.event is not None else None
        await self._s.states.hold_conflict(keyed, prior, policy, status, event)
