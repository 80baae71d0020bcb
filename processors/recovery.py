"""faust's recovery, made to seek the stream partitions before it fetches from them.

When a rebalance completes, faust-streaming (0.15.3) resumes the stream partitions and only
then seeks them back to their committed offsets (``Recovery.on_recovery_completed``). On
every rebalance but a worker's first, faust's fetcher is running and the flow is resumed
already at that point, so records fetched from the partitions' old positions are
delivered while the seek is in flight. The seek then moves the read offsets back under
them, and faust's next ``flow_control.resume()`` clears the stream's queues, dropping what
had been delivered but not yet taken. Seen here as partitions that stall with records
uncommitted and nothing delivered, and as ranges faust skips and then commits as a "gap"
(processors.skipped; faust-streaming issues #216, #221, #606). Reproduced by
``tests/integration/test_processors.py``'s rebalance test with the seek slowed down.

:class:`SeekFirstRecovery` stops the flow before faust resumes the partitions; faust
resumes it after the seek, so nothing is fetched from a stale position. Stopping the flow
is what faust itself does when a rebalance starts.
"""

from __future__ import annotations

from faust.tables import TableManager
from faust.tables.recovery import Recovery


class SeekFirstRecovery(Recovery):
    async def on_recovery_completed(self, generation_id: int = 0) -> None:
        # faust's own resume_flow() at the end of the call starts the flow again (and a
        # rebalance that interrupts the call stops and restarts it as usual).
        self.app.consumer.stop_flow()
        await super().on_recovery_completed(generation_id)


class SeekFirstTableManager(TableManager):
    """faust's table manager with :class:`SeekFirstRecovery` (``App(TableManager=...)``)."""

    @property
    def recovery(self) -> Recovery:
        # faust builds its Recovery here on first use and stops the one it keeps in
        # ``_recovery``; there is no public way to choose the class.
        if self._recovery is None:
            self._recovery = SeekFirstRecovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery
