"""Group commit of audit rows for a server: every answered request has its row committed first.

Request handlers :meth:`AuditWriter.submit` their row and wait on the returned future before sending the
answer's first byte. One background thread takes whatever is queued, writes it in one transaction as soon
as the previous write has finished (no fixed delay) and then resolves those futures. Under load one
transaction carries many rows; when idle a row is written at once. Figures: ``db.SQLITE_SYNCHRONOUS``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future

from rekomendasi.errors import RekomendasiError
from rekomendasi.serving.auth import Principal
from rekomendasi.serving.store.audit import AuditLog

logger = logging.getLogger(__name__)

MAX_BATCH_ROWS = 2000
"""Most rows one transaction carries; more queued rows go in the next one."""


class AuditWriterClosed(RekomendasiError):
    """A row was submitted after :meth:`AuditWriter.close` (the server is stopping): HTTP 503."""

    status_code = 503


class AuditWriter:
    """Writes audit rows by group commit (module docstring).

    A row whose transaction fails is not retried: its future gets the exception, so the request it
    belongs to fails (500) instead of being answered without its row.

    Args:
        log: Where the rows go.
    """

    def __init__(self, log: AuditLog) -> None:
        self.log = log
        self._queue: list[tuple[Mapping[str, object], Future[None]]] = []
        self._wake = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="audit-writer", daemon=True)
        self._thread.start()

    def submit(self, row: Mapping[str, object]) -> Future[None]:
        """Queue one row built by :meth:`AuditLog.audit_row`.

        Returns:
            A future resolved (result None) once the transaction holding the row has committed, or set
            with the exception that made it fail (:class:`AuditWriterClosed` after :meth:`close`).
            Cancelling it does not withdraw the row.
        """
        future: Future[None] = Future()
        with self._wake:
            if self._closed:
                future.set_exception(AuditWriterClosed("the audit writer is closed: the server is stopping"))
                return future
            self._queue.append((row, future))
            self._wake.notify()
        return future

    def __call__(
        self,
        principal: Principal | None,
        action: str,
        nips: Sequence[str],
        model_version: str | None,
        snapshot_id: str | None,
        status: int,
        detail: str = "",
        *,
        refused: Sequence[str] = (),
        request_id: str | None = None,
    ) -> Future[None]:
        """Record one request (the fields of :meth:`AuditLog.audit_row`); see :meth:`submit`."""
        row = self.log.audit_row(
            principal,
            action,
            nips,
            model_version,
            snapshot_id,
            status,
            detail,
            refused=refused,
            request_id=request_id,
        )
        return self.submit(row)

    def close(self, timeout: float = 30.0) -> None:
        """Write what is queued, then stop the thread; later submits fail with :class:`AuditWriterClosed`.

        Args:
            timeout: Seconds to wait for the queue to drain (>= 0).
        """
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._thread.join(timeout)
        if self._thread.is_alive():
            logger.error("the audit writer did not drain its queue within %.0f s", timeout)

    def _loop(self) -> None:
        while True:
            with self._wake:
                while not self._queue and not self._closed:
                    self._wake.wait()
                if not self._queue:  # closed and drained
                    return
                batch, self._queue = self._queue[:MAX_BATCH_ROWS], self._queue[MAX_BATCH_ROWS:]
            # RUNNING futures can no longer be cancelled; a cancelled one (its request went away) still
            # has its row written, only nobody waits for it.
            waiting = [future for _, future in batch if future.set_running_or_notify_cancel()]
            try:
                self.log.write([row for row, _ in batch])
            except Exception as err:  # every waiting request fails with the write's error
                logger.exception("audit write of %d rows failed", len(batch))
                for future in waiting:
                    future.set_exception(err)
            else:
                for future in waiting:
                    future.set_result(None)
