"""Opportunistic batching: requests that arrive while the model is busy are scored together.

A model call has a fixed cost (input checks inside scikit-learn, building a
DataFrame) that dwarfs the per-row cost for small requests. While one call
runs in a worker thread, the event loop keeps reading and validating new
requests; when the call returns, everything that queued up meanwhile goes to
the model as one table, and each request gets its own rows back. Nothing waits
for a batch to fill: a lone request is scored at once.

Only for models whose rows are scored independently (the handler says so:
scikit-learn's predict methods are). A failing batch is retried request by
request, so one bad request cannot fail the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pyarrow as pa
from starlette.concurrency import run_in_threadpool

Columns = dict[str, Any]


class Batcher:
    """Scores validated tables through ``score`` (table -> output columns), batching
    tables that queue up while a call is running, up to ``max_rows`` rows per call."""

    def __init__(self, score: Callable[[pa.Table], Columns], max_rows: int = 50_000) -> None:
        self._score = score
        self._max_rows = max_rows
        self._queue: list[tuple[pa.Table, asyncio.Future[Columns]]] = []
        self._drainer: asyncio.Task[None] | None = None  # held: tasks are weakly referenced

    async def __call__(self, table: pa.Table) -> Columns:
        future: asyncio.Future[Columns] = asyncio.get_running_loop().create_future()
        self._queue.append((table, future))
        if self._drainer is None:
            self._drainer = asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        batch: list[tuple[pa.Table, asyncio.Future[Columns]]] = []
        try:
            while self._queue:
                batch = self._take()
                await self._run(batch)
        except BaseException as exc:  # never leave a request waiting forever
            for _, future in batch + self._queue:
                _settle(future, exc if isinstance(exc, Exception) else RuntimeError("stopped"))
            self._queue = []
            raise
        finally:
            self._drainer = None

    def _take(self) -> list[tuple[pa.Table, asyncio.Future[Columns]]]:
        rows = 0
        count = 0
        for table, _ in self._queue:
            if count and rows + table.num_rows > self._max_rows:
                break
            rows += table.num_rows
            count += 1
        batch, self._queue = self._queue[:count], self._queue[count:]
        return batch

    async def _run(self, batch: list[tuple[pa.Table, asyncio.Future[Columns]]]) -> None:
        tables = [table for table, _ in batch]
        try:
            combined = tables[0] if len(tables) == 1 else pa.concat_tables(tables)
            columns = await run_in_threadpool(self._score, combined)
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0][1], exc)
                return
            for one in batch:  # isolate the request that made the model fail
                await self._run([one])
            return
        start = 0
        for table, future in batch:
            end = start + table.num_rows
            _settle(future, {name: values[start:end] for name, values in columns.items()})
            start = end


def _settle(future: asyncio.Future[Columns], outcome: Columns | Exception) -> None:
    if future.done():  # the client went away
        return
    if isinstance(outcome, Exception):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
