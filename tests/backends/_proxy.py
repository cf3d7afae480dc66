"""A loopback fault-injection HTTP proxy for storage clients (s3fs, adlfs, gcsfs).

``FaultProxy(upstream)`` listens on 127.0.0.1 (a free port) in a background thread with
its own asyncio event loop and forwards every request -- method, raw path and query,
headers (signatures included: ``Host``, ``Content-Length`` and ``Content-Type`` pass
through unchanged), streamed body -- to the upstream emulator, then streams the answer
back. Point the client at ``proxy.url`` instead of the emulator::

    with FaultProxy(moto.endpoint_url, seed=1) as proxy:
        fs = s3fs.S3FileSystem(**moto.storage_options(proxy.url))
        proxy.set_faults(error_rate=0.2, drop_after=0.1)
        ...
        proxy.stats()["faults"]

Faults, drawn per request from a seeded ``random.Random`` (deterministic for a sequence
of requests):

* ``error`` -- answer 500 or 503 without forwarding (the body is read and discarded);
* ``drop_before`` -- close the connection before forwarding (upstream sees nothing);
* ``drop_after`` -- forward, let the upstream finish, then close the connection without
  answering: the "lost response" case (the write happened, the client does not know);
* ``truncate`` -- send the headers and half of the body, then close the connection
  (only for answers with a body: an empty answer, e.g. to a PUT, passes unharmed and
  is not counted);
* ``delay`` -- sleep ``delay_s`` before forwarding (independent of the others).

``fail_next(kind, ...)`` queues deterministic faults for the next matching requests;
they take precedence over the random ones. Counters: ``stats()``, ``by_method()``,
``requests`` and ``measure()`` (requests seen inside a ``with`` block) -- also the way to
count requests per operation.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Self

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

FAULT_KINDS = ("error", "drop_before", "drop_after", "truncate", "delay")

# RFC 9110 hop-by-hop headers, plus Expect (aiohttp answers 100-continue itself).
_HOP_BY_HOP = frozenset(
    h.lower()
    for h in (
        "Connection",
        "Keep-Alive",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "Proxy-Connection",
        "TE",
        "Trailer",
        "Transfer-Encoding",
        "Upgrade",
        "Expect",
    )
)
_CHUNK = 256 * 1024


@dataclass
class Record:
    """One request the proxy saw."""

    method: str
    path: str  # raw path, without the query
    query: str
    fault: str | None = None  # the injected fault ("delay" is not recorded here)
    status: int | None = None  # status sent to the client (None: connection dropped)
    delayed: bool = False


@dataclass
class FaultConfig:
    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (500, 503)
    drop_before: float = 0.0
    drop_after: float = 0.0
    truncate_rate: float = 0.0
    delay_s: float = 0.0
    delay_rate: float = 1.0
    methods: frozenset[str] | None = None  # only these methods get faults (None: all)
    path_regex: str | None = None  # only paths (with query) matching this get faults
    max_faults: int | None = None  # stop injecting random faults after this many

    def matches(self, method: str, path: str) -> bool:
        if self.methods is not None and method not in self.methods:
            return False
        return self.path_regex is None or re.search(self.path_regex, path) is not None


@dataclass
class _Queued:
    kind: str
    methods: frozenset[str] | None
    path_regex: str | None
    status: int
    remaining: int
    skip: int = 0  # matching requests to let through first


@dataclass
class Window:
    """Requests seen between entering and leaving ``FaultProxy.measure()``."""

    records: list[Record] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.records)

    @property
    def by_method(self) -> Counter[str]:
        return Counter(r.method for r in self.records)

    @property
    def faults(self) -> Counter[str]:
        counts = Counter(r.fault for r in self.records if r.fault)
        counts.update("delay" for r in self.records if r.delayed)
        return counts


def _methods(methods: Iterable[str] | str | None) -> frozenset[str] | None:
    if methods is None:
        return None
    if isinstance(methods, str):
        methods = [methods]
    return frozenset(m.upper() for m in methods)


def _error_body(status: int) -> bytes:
    code = "ServiceUnavailable" if status == 503 else "InternalError"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>injected by the test proxy</Message></Error>"
    ).encode()


class FaultProxy:
    """Forwarding HTTP proxy on 127.0.0.1 with seeded, runtime-configurable faults."""

    def __init__(self, upstream: str, *, seed: int = 0, host: str = "127.0.0.1") -> None:
        self.upstream = upstream.rstrip("/")
        self.host = host
        self.port = 0
        self._seed = seed
        self._rng = random.Random(seed)
        self._config = FaultConfig()
        self._queue: list[_Queued] = []
        self._lock = threading.Lock()
        self._records: list[Record] = []
        self._faults: Counter[str] = Counter()
        self._random_faults = 0
        self._forwarded = 0
        self._upstream_errors = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    # -- lifecycle -------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> Self:
        if self._thread is not None:
            return self
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()

        self._loop = loop
        self._thread = threading.Thread(target=run, name=f"FaultProxy->{self.upstream}")
        self._thread.daemon = True
        self._thread.start()
        ready.wait(10)
        asyncio.run_coroutine_threadsafe(self._astart(), loop).result(timeout=30)
        return self

    async def _astart(self) -> None:
        self._session = aiohttp.ClientSession(
            auto_decompress=False,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=300),
            connector=aiohttp.TCPConnector(limit=0, force_close=False),
        )
        app = web.Application(client_max_size=0)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def _astop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._astop(), loop).result(timeout=30)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=30)
            loop.close()
            self._loop = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- configuration ---------------------------------------------------------------
    def set_faults(
        self,
        *,
        error_rate: float = 0.0,
        error_statuses: Iterable[int] = (500, 503),
        drop_before: float = 0.0,
        drop_after: float = 0.0,
        truncate_rate: float = 0.0,
        delay_s: float = 0.0,
        delay_rate: float = 1.0,
        methods: Iterable[str] | str | None = None,
        path_regex: str | None = None,
        max_faults: int | None = None,
        seed: int | None = None,
    ) -> None:
        """Replace the random fault configuration (rates are per request, 0..1, and their
        sum must be <= 1). ``methods``/``path_regex`` limit which requests may get a
        fault; ``max_faults`` caps the number of random faults (delays not counted);
        ``seed`` re-seeds the generator."""
        total = error_rate + drop_before + drop_after + truncate_rate
        if not 0.0 <= total <= 1.0:
            raise ValueError(f"fault rates add up to {total}, not within 0..1")
        config = FaultConfig(
            error_rate=error_rate,
            error_statuses=tuple(error_statuses),
            drop_before=drop_before,
            drop_after=drop_after,
            truncate_rate=truncate_rate,
            delay_s=delay_s,
            delay_rate=delay_rate,
            methods=_methods(methods),
            path_regex=path_regex,
            max_faults=max_faults,
        )
        with self._lock:
            self._config = config
            self._random_faults = 0
            if seed is not None:
                self._rng = random.Random(seed)

    def clear_faults(self) -> None:
        """No more faults: random configuration and queued faults are dropped."""
        with self._lock:
            self._config = FaultConfig()
            self._queue.clear()

    def fail_next(
        self,
        kind: str,
        *,
        count: int = 1,
        methods: Iterable[str] | str | None = None,
        path_regex: str | None = None,
        status: int = 503,
        after: int = 0,
    ) -> None:
        """Inject ``kind`` into the next ``count`` requests matching ``methods`` and
        ``path_regex``, after letting ``after`` of them through (deterministic; before
        any random fault): ``after=2`` reaches the third block of an upload."""
        if kind not in FAULT_KINDS or kind == "delay":
            raise ValueError(f"kind must be one of {FAULT_KINDS[:-1]}, not {kind!r}")
        with self._lock:
            self._queue.append(
                _Queued(kind, _methods(methods), path_regex, status, count, skip=after)
            )

    # -- counters --------------------------------------------------------------------
    @property
    def requests(self) -> int:
        with self._lock:
            return len(self._records)

    def records(self) -> list[Record]:
        with self._lock:
            return list(self._records)

    def by_method(self) -> Counter[str]:
        with self._lock:
            return Counter(r.method for r in self._records)

    def faults(self) -> Counter[str]:
        with self._lock:
            return Counter(self._faults)

    def stats(self) -> dict[str, Any]:
        """A snapshot: ``requests`` seen, ``by_method``, ``faults`` by kind, ``forwarded``
        (requests the upstream answered, drop_after included) and ``upstream_errors``."""
        with self._lock:
            return {
                "requests": len(self._records),
                "by_method": dict(Counter(r.method for r in self._records)),
                "faults": dict(self._faults),
                "forwarded": self._forwarded,
                "upstream_errors": self._upstream_errors,
            }

    def reset_counters(self) -> None:
        with self._lock:
            self._records.clear()
            self._faults.clear()
            self._forwarded = 0
            self._upstream_errors = 0

    @contextlib.contextmanager
    def measure(self) -> Iterator[Window]:
        """Collect the requests that arrive inside the block::

        with proxy.measure() as w:
            fs.cat_file(path)
        assert w.by_method == {"HEAD": 1, "GET": 1}
        """
        window = Window()
        with self._lock:
            start = len(self._records)
        try:
            yield window
        finally:
            with self._lock:
                window.records.extend(self._records[start:])

    # -- request handling ------------------------------------------------------------
    def _choose(self, method: str, path: str) -> tuple[Record, str | None, int, float]:
        """Record the request and pick (fault, error status, delay) under the lock."""
        query_sep = path.find("?")
        rec = Record(
            method=method,
            path=path if query_sep < 0 else path[:query_sep],
            query="" if query_sep < 0 else path[query_sep + 1 :],
        )
        fault: str | None = None
        status = 503
        delay = 0.0
        with self._lock:
            self._records.append(rec)
            for q in self._queue:
                if (q.methods is None or method in q.methods) and (
                    q.path_regex is None or re.search(q.path_regex, path)
                ):
                    if q.skip > 0:
                        q.skip -= 1
                        break
                    fault, status = q.kind, q.status
                    q.remaining -= 1
                    if q.remaining <= 0:
                        self._queue.remove(q)
                    break
            cfg = self._config
            if fault is None and cfg.matches(method, path):
                r = self._rng.random()
                pick = self._rng.random()
                d = self._rng.random()
                capped = cfg.max_faults is not None and self._random_faults >= cfg.max_faults
                if not capped:
                    for kind, rate in (
                        ("error", cfg.error_rate),
                        ("drop_before", cfg.drop_before),
                        ("drop_after", cfg.drop_after),
                        ("truncate", cfg.truncate_rate),
                    ):
                        if r < rate:
                            fault = kind
                            self._random_faults += 1
                            break
                        r -= rate
                    if fault == "error":
                        statuses = cfg.error_statuses or (503,)
                        status = statuses[int(pick * len(statuses)) % len(statuses)]
                if cfg.delay_s > 0 and d < cfg.delay_rate:
                    delay = cfg.delay_s
        return rec, fault, status, delay

    def _count_fault(self, rec: Record, kind: str) -> None:
        with self._lock:
            rec.fault = kind
            self._faults[kind] += 1

    @staticmethod
    def _drop(request: web.Request) -> None:
        transport = request.transport
        if transport is not None:
            transport.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        rec, fault, status, delay = self._choose(request.method, request.raw_path)
        if delay:
            with self._lock:
                rec.delayed = True
                self._faults["delay"] += 1
            await asyncio.sleep(delay)

        if fault == "drop_before":
            self._count_fault(rec, fault)
            self._drop(request)
            return web.Response(status=500)  # never sent: the connection is closed

        if fault == "error":
            self._count_fault(rec, fault)
            while await request.content.readany():  # read and discard the body
                pass
            rec.status = status
            body = b"" if request.method == "HEAD" else _error_body(status)
            return web.Response(
                status=status,
                body=body,
                headers={"Content-Type": "application/xml", "Retry-After": "0"},
            )

        return await self._forward(request, rec, fault)

    async def _forward(
        self, request: web.Request, rec: Record, fault: str | None
    ) -> web.StreamResponse:
        assert self._session is not None
        headers = CIMultiDict(
            (k, v) for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP
        )
        data = request.content if request.body_exists else None
        url = URL(self.upstream + request.raw_path, encoded=True)
        try:
            upstream = await self._session.request(
                request.method,
                url,
                headers=headers,
                data=data,
                allow_redirects=False,
                skip_auto_headers=("Content-Type", "Accept-Encoding", "User-Agent", "Accept"),
            )
        except (aiohttp.ClientError, OSError) as exc:
            with self._lock:
                self._upstream_errors += 1
            rec.status = 502
            return web.Response(status=502, text=f"test proxy: upstream failed: {exc!r}")

        with self._lock:
            self._forwarded += 1  # the upstream answered (its body may still be streaming)
        async with upstream:
            if fault == "drop_after":
                await upstream.read()  # the upstream finished the work
                self._count_fault(rec, fault)
                self._drop(request)
                return web.Response(status=500)  # never sent

            try:
                return await self._relay(request, upstream, rec, fault)
            except ConnectionError:  # the client went away while we answered
                rec.status = None
                return web.Response(status=500)  # never sent

    async def _relay(
        self,
        request: web.Request,
        upstream: aiohttp.ClientResponse,
        rec: Record,
        fault: str | None,
    ) -> web.StreamResponse:
        resp = web.StreamResponse(status=upstream.status, reason=upstream.reason)
        for key, value in upstream.headers.items():
            if key.lower() in _HOP_BY_HOP:
                continue
            if key.lower() == "location" and value.startswith(self.upstream):
                # e.g. a GCS resumable-upload session URL: keep the client on the proxy
                resp.headers.add(key, self.url + value[len(self.upstream) :])
            else:
                resp.headers.add(key, value)
        length = upstream.content_length
        no_body = request.method == "HEAD" or upstream.status in (204, 304)
        if length is None and not no_body:
            resp.enable_chunked_encoding()
        rec.status = upstream.status  # before the client can see the answer
        await resp.prepare(request)

        cut: int | None = None
        if fault == "truncate" and not no_body and length != 0:
            cut = length // 2 if length is not None else 1
        sent = 0
        truncated = False
        if not no_body:
            async for chunk in upstream.content.iter_chunked(_CHUNK):
                if cut is not None and sent + len(chunk) >= cut:
                    await resp.write(chunk[: cut - sent])
                    truncated = True
                    break
                await resp.write(chunk)
                sent += len(chunk)
        if truncated:
            self._count_fault(rec, "truncate")
            rec.status = None
            self._drop(request)  # close() flushes what was written, then FIN
            return resp
        await resp.write_eof()
        return resp
