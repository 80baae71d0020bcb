"""One reconciliation run: every configured pair compared, recorded, measured and (when
asked) repaired.

Per pair, in this order: read both systems (each system once per run, shared by its
pairs), compare (:mod:`pollers.reconcile.compare`), record the mismatches
(:mod:`pollers.reconcile.store`), set ``hookline_reconcile_mismatches`` per kind, repair
from the source of truth when asked (:mod:`pollers.reconcile.repair`), and write one
``sync_runs`` row (kind ``reconcile``, ``source`` and ``destination`` the pair's systems,
``records_seen`` the entities compared, ``records_changed`` the mismatches,
``records_emitted`` the repairs published). A pair whose system cannot be read is a
``failed`` row with the error; the other pairs still run.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg
from psycopg_pool import AsyncConnectionPool

from hookline.kafka_clients import PublishError
from hookline.logs import get_logger
from pollers.base import PollError
from pollers.metrics import PollerMetrics
from pollers.reconcile import systems
from pollers.reconcile.compare import KINDS, Mismatch, compare
from pollers.reconcile.config import PairConfig, ReconcileConfig
from pollers.reconcile.repair import Repairer
from pollers.reconcile.store import MismatchStore
from pollers.synclog import SyncLog, SyncRun, describe_error

log = get_logger("hookline.pollers.reconcile")

#: What a failed pair raises; anything else is a bug and propagates.
PAIR_ERRORS = (PollError, PublishError, psycopg.Error)


@dataclass(frozen=True, slots=True)
class PairResult:
    pair: str
    family: str
    compared: int
    mismatches: tuple[Mismatch, ...]
    repaired: int = 0
    error: str | None = None


@dataclass
class _Run:
    id: str
    repair: bool
    read: dict[str, dict[str, systems.Seen]] = field(default_factory=dict)


class Reconciler:
    def __init__(
        self,
        config: ReconcileConfig,
        pool: AsyncConnectionPool,
        repairer: Repairer,
        sync_log: SyncLog,
        metrics: PollerMetrics,
    ) -> None:
        self.config = config
        self._systems = {n: systems.build(c, pool) for n, c in config.systems.items()}
        self._store = MismatchStore(pool, config.name)
        self._repairer = repairer
        self._sync_log = sync_log
        self._metrics = metrics

    async def close(self) -> None:
        for system in self._systems.values():
            await system.close()

    async def run(self, repair: bool = False) -> list[PairResult]:
        """Compare every pair once; ``repair``: re-emit what differs from the truth."""
        run = _Run(uuid.uuid4().hex[:12], repair)
        return [await self._pair(pair, run) for pair in self.config.pairs.values()]

    async def _pair(self, pair: PairConfig, run: _Run) -> PairResult:
        started = datetime.now(UTC)
        try:
            result = await self._compare(pair, run)
        except PAIR_ERRORS as exc:
            result = PairResult(pair.label, pair.family, 0, (), error=describe_error(exc))
            log.error("reconcile failed", pair=pair.label, error=result.error)  # noqa: TRY400 - no traceback in logs
        row = SyncRun("reconcile", self.config.name, pair.left, pair.right, started,
                      datetime.now(UTC), result.compared, len(result.mismatches),
                      result.repaired, result.error)  # fmt: skip
        await self._sync_log.record(row)
        return result

    async def _compare(self, pair: PairConfig, run: _Run) -> PairResult:
        left, right = await self._read(pair.left, run), await self._read(pair.right, run)
        found = compare(left, right)
        await self._store.record(pair.label, pair.family, found)
        for kind in KINDS:
            count = sum(1 for m in found if m.kind == kind)
            labels = (self.config.name, pair.label, pair.family, kind)
            self._metrics.mismatches.labels(*labels).set(count)
        repaired = await self._repair(pair, found, run) if run.repair else 0
        log.info("reconciled", pair=pair.label, compared=len(left.keys() | right.keys()),
                 mismatches=len(found), repaired=repaired)  # fmt: skip
        return PairResult(pair.label, pair.family, len(left.keys() | right.keys()),
                          tuple(found), repaired)  # fmt: skip

    async def _read(self, name: str, run: _Run) -> dict[str, systems.Seen]:
        if name not in run.read:
            run.read[name] = await self._systems[name].customers()
        return run.read[name]

    async def _repair(self, pair: PairConfig, found: list[Mismatch], run: _Run) -> int:
        if pair.truth is None or pair.repair_connector is None:
            return 0
        truth_is_right = pair.truth == pair.right
        done = []
        for mismatch in found:
            truth = mismatch.side(truth_is_right)
            if truth is None:
                continue  # only the other system has it: not ours to delete
            if await self._repairer.customer(truth.ref, pair.repair_connector, run.id):
                done.append(mismatch.key)
        await self._store.repaired(pair.label, pair.family, done)
        return len(done)
