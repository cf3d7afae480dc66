"""A small HTTP/1.1 load generator for bench_serving.py: keep-alive, closed loop.

Runs in its own process (``python bench/_load.py SPEC_JSON``, prints one JSON
line). ``concurrency`` connections each send the same pre-built request bytes
one after another and read each response whole (status line, headers, then
exactly ``Content-Length`` body bytes) before sending the next. Responses
during the warm-up are not counted; the measured window then runs from one
response to another (see `Run`), and the latency of every response in it
(first request byte sent to last response byte read) is kept. Every response
must be a 200 whose body equals the reference body byte for byte (the model is
deterministic), else the run stops with an error: a server that answers fast
but wrongly gets no figure.

It is plain asyncio on purpose (no third-party client): httpx or aiohttp spend
far more CPU per request than the servers under test, so they would measure
themselves.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import resource
import socket
import sys
import time
from dataclasses import asdict, dataclass, field

_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.IGNORECASE)
_CHUNKED = re.compile(rb"\r\ntransfer-encoding:[^\r]*chunked", re.IGNORECASE)
_STREAM_LIMIT = 1 << 20  # longest header block accepted


@dataclass
class LoadSpec:
    host: str
    port: int
    path: str
    body_file: str  # request body
    content_type: str
    accept: str
    reference_file: str  # the expected response body
    concurrency: int
    warmup_s: float  # at least this long, and until every connection had a response
    duration_s: float  # at least this long, and until min_requests were measured
    min_requests: int = 1
    max_s: float = 600.0  # give up (an error) if the run is not done by then
    cpu: int | None = None  # pin this process to that CPU
    server_pid: int | None = None  # read its CPU time at the start and end of the window
    server_cpu: int | None = None  # the CPU the server is pinned to (None: not pinned)
    nice: int = 0  # scheduling priority of this process (see set_priority)


@dataclass
class LoadResult:
    requests: int  # completed in the measured window
    window_s: float
    latencies_ms: dict[str, float]  # p50, p90, p99, max, mean
    errors: int  # non-200 responses, wrong bodies, broken connections (whole run)
    first_error: str
    warmup_requests: int
    request_bytes: int
    response_bytes: int
    server_cpu_s: float | None  # server process CPU time (user + system) in the window
    # busy time of the server's CPU (of all CPUs when not pinned) in the window, less the
    # server's (and, when not pinned, this process's) own: other work on the machine
    others_cpu_s: float | None
    client_cpu_s: float  # this process's CPU time in the window
    affinity: list[int] = field(default_factory=list)


def build_request(spec: LoadSpec, body: bytes) -> bytes:
    head = (
        f"POST {spec.path} HTTP/1.1\r\n"
        f"Host: {spec.host}:{spec.port}\r\n"
        f"Content-Type: {spec.content_type}\r\n"
        f"Accept: {spec.accept}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    )
    return head.encode("ascii") + body


def process_cpu_s(pid: int) -> float:
    """utime + stime of a process (all its threads), from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat", "rb") as stat:
        fields = stat.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_busy_s(cpu: int | None) -> float:
    """Busy time (all but idle and iowait) of one CPU, or of all CPUs when ``cpu`` is
    None, from /proc/stat."""
    name = b"cpu" if cpu is None else f"cpu{cpu}".encode()
    with open("/proc/stat", "rb") as stat:
        for line in stat:
            fields = line.split()
            if fields[0] == name:
                ticks = [int(v) for v in fields[1:9]]  # user .. steal (no guest: in user)
                return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")
    raise RuntimeError(f"{name!r} not in /proc/stat")


def own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Run:
    """Shared state of the connections of one run.

    The measured window starts at a response (the first one once ``warmup_s`` has
    passed and every connection has had a response) and ends at a response (the first
    one once ``duration_s`` has passed and at least ``min_requests`` were counted), so
    that runs of few, long requests (bulk) are not cut at an arbitrary point of one:
    requests/s = responses counted / window.
    """

    def __init__(self, spec: LoadSpec, request: bytes, reference: bytes) -> None:
        self.spec = spec
        self.request = request
        self.reference = reference
        self.latencies: list[float] = []
        self.warmup_requests = 0
        self.warmed: set[int] = set()  # connections that had a response in the warm-up
        self.errors = 0
        self.first_error = ""
        self.phase = "warm-up"  # then "measure", then "done"
        self.t_begin = time.perf_counter()
        self.t_start = 0.0  # the measured window
        self.t_end = 0.0
        self.server_cpu: list[float] = []  # at the start and end of the window
        self.busy: list[float] = []
        self.client_cpu: list[float] = []

    def error(self, what: str) -> None:
        self.errors += 1
        if not self.first_error:
            self.first_error = what
        self.phase = "done"  # the run's figures are refused anyway: stop at once

    def _mark(self) -> None:
        if self.spec.server_pid:
            self.server_cpu.append(process_cpu_s(self.spec.server_pid))
            self.busy.append(cpu_busy_s(self.spec.server_cpu))
        self.client_cpu.append(own_cpu_s())

    def response(self, conn: int, t0: float, t1: float) -> None:
        """Account for one good response that took from ``t0`` to ``t1``."""
        spec = self.spec
        if self.phase == "warm-up":
            self.warmup_requests += 1
            self.warmed.add(conn)
            warm = t1 - self.t_begin >= spec.warmup_s
            if warm and len(self.warmed) == spec.concurrency:
                self.phase = "measure"
                self.t_start = t1
                self._mark()
        elif self.phase == "measure":
            self.latencies.append(t1 - t0)
            long_enough = t1 - self.t_start >= spec.duration_s
            if long_enough and len(self.latencies) >= spec.min_requests:
                self.phase = "done"
                self.t_end = t1
                self._mark()
        if self.phase != "done" and t1 - self.t_begin > spec.max_s:
            self.error(
                f"gave up after {spec.max_s:g} s: {len(self.latencies)} of "
                f"{spec.min_requests} responses measured"
            )

    async def connection(self, conn: int) -> None:
        """One keep-alive connection until the run is done. Each connection finishes the
        request it has in flight (so that the server is idle when the run returns); an
        error ends the run, whose figures the caller then refuses."""
        spec = self.spec
        try:
            reader, writer = await asyncio.open_connection(
                spec.host, spec.port, limit=_STREAM_LIMIT
            )
        except OSError as exc:
            self.error(f"connect: {exc!r}")
            return
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            await self._requests(conn, reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            self.error(f"connection: {exc!r}")
        finally:
            writer.close()

    async def _requests(
        self, conn: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        request, reference = self.request, self.reference
        perf = time.perf_counter
        while self.phase != "done":
            t0 = perf()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            match = _CONTENT_LENGTH.search(head)
            if match is None or _CHUNKED.search(head):
                self.error(f"no Content-Length: {head[:200]!r}")
                return
            body = await reader.readexactly(int(match.group(1)))
            t1 = perf()
            if head[9:12] != b"200":
                status_line = head.split(b"\r\n", 1)[0]
                self.error(f"{status_line!r}: {body[:300]!r}")
                return
            if body != reference:
                self.error(f"a response body differs from the reference: {body[:200]!r}")
                return
            self.response(conn, t0, t1)


async def run_load(spec: LoadSpec) -> LoadResult:
    with open(spec.body_file, "rb") as f:
        body = f.read()
    with open(spec.reference_file, "rb") as f:
        reference = f.read()
    run = Run(spec, build_request(spec, body), reference)
    await asyncio.gather(*(run.connection(i) for i in range(spec.concurrency)))

    lat = sorted(run.latencies)
    n = len(lat)

    def pct(q: float) -> float:
        return lat[min(n - 1, round(q * (n - 1)))] * 1000 if n else float("nan")

    latencies = {
        "p50": pct(0.50),
        "p90": pct(0.90),
        "p99": pct(0.99),
        "max": lat[-1] * 1000 if n else float("nan"),
        "mean": sum(lat) / n * 1000 if n else float("nan"),
    }
    measured = run.phase == "done" and not run.errors
    server_cpu = others = None
    client_cpu = run.client_cpu[1] - run.client_cpu[0] if measured else 0.0
    if measured and len(run.server_cpu) == 2:
        server_cpu = run.server_cpu[1] - run.server_cpu[0]
        others = run.busy[1] - run.busy[0] - server_cpu
        if spec.server_cpu is None:
            others -= client_cpu
    return LoadResult(
        requests=n if measured else 0,
        window_s=run.t_end - run.t_start if measured else 0.0,
        latencies_ms=latencies,
        errors=run.errors,
        first_error=run.first_error,
        warmup_requests=run.warmup_requests,
        request_bytes=len(run.request),
        response_bytes=len(reference),
        server_cpu_s=server_cpu,
        others_cpu_s=others,
        client_cpu_s=client_cpu,
    )


def set_priority(nice: int) -> None:
    """Run this process at ``nice`` (negative needs root). The caller starts it in a new
    session, so with the kernel's autogroup scheduling it also has a group of its own,
    whose nice is set too: a task's nice alone does not help against other sessions."""
    if not nice:
        return
    os.setpriority(os.PRIO_PROCESS, 0, nice)
    try:
        with open("/proc/self/autogroup", "w") as group:
            group.write(str(nice))
    except OSError:  # no autogroup scheduling here
        pass


def main(argv: list[str]) -> int:
    spec = LoadSpec(**json.loads(argv[0]))
    set_priority(spec.nice)
    affinity: list[int] = []
    if spec.cpu is not None:
        os.sched_setaffinity(0, {spec.cpu})
        affinity = sorted(os.sched_getaffinity(0))
    result = asyncio.run(run_load(spec))
    result.affinity = affinity
    print(json.dumps(asdict(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
