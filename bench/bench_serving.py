"""Benchmark pinyard's model server against vetiver 0.2.6's VetiverAPI, in one run.

This is a benchmark, not a test: it measures and prints, and never fails on a
missed goal (it does fail when a server answers wrongly). Run it from the
repository root with the project's venv:

    .venv/bin/python bench/bench_serving.py --quick          # about 70 s
    .venv/bin/python bench/bench_serving.py                  # about 5 minutes
    .venv/bin/python bench/bench_serving.py --nice -10       # on a shared machine (root)

One scikit-learn pipeline (StandardScaler + LogisticRegression, 3 classes, on
8 named float64 columns, fitted on seeded synthetic data) is written once to a
pinyard folder board as a ``ModelBundle``. Both servers load that same pinned
model file (pinyard's through ``create_app``, vetiver's through
``board.pin_read`` then ``VetiverModel(model, prototype_data=X_train)`` and
``VetiverAPI(check_prototype=True)``), each in its own subprocess with
``uvicorn.run`` and the same settings (one worker, same loop and HTTP
implementation, warning log level, no access log). A load generator
(``bench/_load.py``: plain asyncio, HTTP/1.1 keep-alive, closed loop) runs in
a third process. On a machine with 2 or more CPUs the servers are pinned to
one CPU and the load generator to another (``--no-pin`` turns that off).

Scenarios (see bench/README.md for what each figure means):

1. JSON, 1 row (a list of one record): both servers;
2. JSON, 1,000 rows (a list of records): both servers;
3. Arrow IPC stream, 1,000 rows, Arrow IPC response: pinyard;
4. JSON, bulk (100,000 rows) and Arrow IPC, bulk: pinyard, for rows/s.

Every response must be a 200 whose body equals a reference body that was
decoded and checked against the model's own predictions in this process.

Results go to a table on stdout and to ``bench/results/serving.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from _load import set_priority  # bench/ is on sys.path
from bench_board import log, med, spread  # the sibling benchmark

SEED = 20261127
TRAIN_ROWS = 5_000
MODEL_PIN = "model"
COLUMNS = (
    "temperature",
    "pressure",
    "humidity",
    "wind_speed",
    "rainfall",
    "visibility",
    "cloud_cover",
    "dew_point",
)
DECIMALS = 4  # feature values are rounded, so JSON numbers are short (as measured data are)
HOST = "127.0.0.1"
SERVER_START_TIMEOUT_S = 120
LOAD_MAX_S = 900  # a load run that has not measured enough by then fails
LOAD_TIMEOUT_MARGIN_S = 120

THROUGHPUT_GOAL = 2.0  # pinyard >= 2x vetiver's requests/s, 1 row and 1,000 rows (JSON)
ARROW_GOAL = 10.0  # pinyard Arrow bulk rows/s >= 10x pinyard JSON bulk rows/s
BUSY_OTHERS = 0.10  # other processes' share of the server's CPU above which a note is printed

JSON_TYPE = "application/json"
ARROW_TYPE = "application/vnd.apache.arrow.stream"

HERE = Path(__file__).resolve().parent
DEFAULT_JSON = HERE / "results" / "serving.json"

Server = Literal["pinyard", "vetiver"]
SERVERS: tuple[Server, Server] = ("pinyard", "vetiver")
Format = Literal["json", "arrow"]


@dataclass(frozen=True)
class Scenario:
    key: str
    fmt: Format
    rows: int
    servers: tuple[Server, ...]
    bulk: bool = False  # measured with --bulk-concurrency

    @property
    def label(self) -> str:
        return f"{'JSON' if self.fmt == 'json' else 'Arrow IPC'}, {self.rows:,} row" + (
            "s" if self.rows != 1 else ""
        )


def scenarios(bulk_rows: int) -> tuple[Scenario, ...]:
    return (
        Scenario("json-1", "json", 1, SERVERS),
        Scenario("json-1k", "json", 1_000, SERVERS),
        Scenario("arrow-1k", "arrow", 1_000, ("pinyard",)),
        Scenario("json-bulk", "json", bulk_rows, ("pinyard",), bulk=True),
        Scenario("arrow-bulk", "arrow", bulk_rows, ("pinyard",), bulk=True),
    )


# -- data and model ----------------------------------------------------------------


def make_frame(rows: int, seed: int) -> tuple[Any, Any]:
    """Features (a DataFrame of the named float64 columns) and a 3-class target."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    means = np.linspace(-50.0, 1000.0, len(COLUMNS))
    scales = np.linspace(0.5, 200.0, len(COLUMNS))
    values = np.round(rng.normal(means, scales, size=(rows, len(COLUMNS))), DECIMALS)
    frame = pd.DataFrame(values, columns=list(COLUMNS))
    z = (values - means) / scales
    score = z @ rng.normal(size=len(COLUMNS)) + rng.normal(scale=0.5, size=rows)
    target = np.digitize(score, np.quantile(score, [1 / 3, 2 / 3]))
    return frame, target


def training_data() -> Any:
    """The training features: also vetiver's prototype (made the same way in its server)."""
    return make_frame(TRAIN_ROWS, SEED)[0]


def fit_model() -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    frame, target = make_frame(TRAIN_ROWS, SEED)
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(frame, target)


def json_body(frame: Any) -> bytes:
    """A list of records, the format both servers read."""
    records = frame.to_dict(orient="records")
    return json.dumps(records, separators=(",", ":")).encode()


def arrow_body(frame: Any) -> bytes:
    import pyarrow as pa

    table = pa.Table.from_pandas(frame, preserve_index=False)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue())


def decode_predictions(body: bytes, fmt: Format) -> list[Any]:
    """The ``predict`` column of a response (both servers answer ``{"predict": [...]}``)."""
    if fmt == "arrow":
        import pyarrow as pa

        return list(pa.ipc.open_stream(body).read_all().column("predict").to_pylist())
    doc = json.loads(body)
    if not isinstance(doc, dict) or set(doc) != {"predict"}:
        raise AssertionError(f"unexpected response: {body[:200]!r}")
    return list(doc["predict"])


# -- servers -------------------------------------------------------------------------


def resolve_uvicorn(loop: str, http: str) -> tuple[str, str]:
    """The loop and HTTP implementation uvicorn's "auto" picks here (passed explicitly to
    both servers, so they surely run the same)."""
    if loop == "auto":
        loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    if http == "auto":
        http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return loop, http


def server_main(spec: dict[str, Any]) -> None:
    """A server subprocess: build one app, then ``uvicorn.run`` it until terminated."""
    if spec["cpu"] is not None:
        os.sched_setaffinity(0, {spec["cpu"]})
    set_priority(spec["nice"])
    import uvicorn

    import pinyard

    board = pinyard.board_folder(spec["board_dir"], create=False)
    if spec["server"] == "pinyard":
        from pinyard.serving import create_app

        app = create_app(board, MODEL_PIN, version=spec["version"])
    else:
        import vetiver

        model = board.pin_read(MODEL_PIN, spec["version"])  # the same verified model file
        v = vetiver.VetiverModel(model, MODEL_PIN, prototype_data=training_data())
        app = vetiver.VetiverAPI(v, check_prototype=True).app
    uvicorn.run(
        app,
        host=HOST,
        port=spec["port"],
        log_level="warning",
        access_log=False,
        loop=spec["loop"],
        http=spec["http"],
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class Running:
    server: Server
    port: int
    proc: subprocess.Popen[bytes]
    log_path: str

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}{path}"

    def log_tail(self) -> str:
        with open(self.log_path, errors="replace") as f:
            return f.read()[-4000:]


@contextlib.contextmanager
def start_server(server: Server, spec: dict[str, Any], root: str) -> Iterator[Running]:
    port = free_port()
    log_path = os.path.join(root, f"{server}-server.log")
    full = {**spec, "server": server, "port": port}
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, __file__, "_server", json.dumps(full)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # an autogroup of its own, for --nice
        )
    running = Running(server, port, proc, log_path)
    try:
        wait_for_ping(running)
        yield running
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_for_ping(running: Running) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if running.proc.poll() is not None:
            raise RuntimeError(f"the {running.server} server exited:\n{running.log_tail()}")
        try:
            with urllib.request.urlopen(running.url("/ping"), timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the {running.server} server did not answer /ping:\n{running.log_tail()}")


def post(running: Running, body: bytes, fmt: Format, path: str = "/predict") -> bytes:
    kind = JSON_TYPE if fmt == "json" else ARROW_TYPE
    req = urllib.request.Request(
        running.url(path),
        data=body,
        method="POST",
        headers={"Content-Type": kind, "Accept": kind},
    )
    try:
        with urllib.request.urlopen(req, timeout=300) as resp:
            if resp.status != 200:
                raise AssertionError(f"{running.server} answered {resp.status}")
            return bytes(resp.read())
    except urllib.error.HTTPError as exc:
        raise AssertionError(
            f"{running.server} {path} answered {exc.code}: {exc.read()[:500]!r}"
        ) from None


# -- the run -------------------------------------------------------------------------


@dataclass
class Config:
    duration_s: float
    warmup_s: float
    concurrency: int
    bulk_concurrency: int
    bulk_rows: int
    min_requests: int
    repeat: int
    pin_cpus: bool
    nice: int
    loop: str
    http: str
    tmp_dir: str
    quick: bool


@dataclass
class Measurement:
    rep: int
    scenario: str
    server: str
    rows: int
    concurrency: int
    result: dict[str, Any]  # bench/_load.py's LoadResult

    @property
    def rps(self) -> float:
        return float(self.result["requests"]) / float(self.result["window_s"])

    @property
    def rows_s(self) -> float:
        return self.rps * self.rows

    @property
    def cpu_ms(self) -> float:
        """Server CPU time per request (ms): less sensitive than requests/s to other work on
        the machine, which takes CPU time from the server but adds little to this."""
        cpu = self.result["server_cpu_s"]
        return float("nan") if cpu is None else 1000 * cpu / self.result["requests"]

    @property
    def others_share(self) -> float:
        """CPU time other processes took on the server's CPU (on all CPUs when not pinned),
        as a share of the window."""
        others = self.result["others_cpu_s"]
        return float("nan") if others is None else max(0.0, others) / self.result["window_s"]

    @property
    def server_share(self) -> float:
        cpu = self.result["server_cpu_s"]
        return float("nan") if cpu is None else cpu / self.result["window_s"]


@dataclass
class Raw:
    measurements: list[Measurement] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    cpus: dict[str, int | None] = field(default_factory=dict)
    request_bytes: dict[str, int] = field(default_factory=dict)
    load_before: list[float] = field(default_factory=list)
    load_after: list[float] = field(default_factory=list)


def choose_cpus(pin: bool) -> dict[str, int | None]:
    """The servers on the first CPU this process may use, the load generator on the second."""
    allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if not pin or len(allowed) < 2:
        return {"server": None, "load": None}
    return {"server": allowed[0], "load": allowed[1]}


def prepare(cfg: Config, root: str, raw: Raw) -> tuple[str, dict[str, Path], dict[str, Any]]:
    """Fit and pin the model; write the request bodies; the expected predictions."""
    import pinyard
    from pinyard.models import ModelBundle

    model = fit_model()
    board_dir = os.path.join(root, "board")
    board = pinyard.board_folder(board_dir)
    version = board.pin_write(ModelBundle(model, prototype=training_data()), MODEL_PIN).version

    test, _ = make_frame(cfg.bulk_rows, SEED + 1)
    bodies: dict[str, Path] = {}
    expected: dict[str, Any] = {}
    for sc in scenarios(cfg.bulk_rows):
        frame = test.head(sc.rows)
        body = json_body(frame) if sc.fmt == "json" else arrow_body(frame)
        path = Path(root, f"request-{sc.key}.bin")
        path.write_bytes(body)
        bodies[sc.key] = path
        raw.request_bytes[sc.key] = len(body)
        expected[sc.key] = model.predict(frame).tolist()
    # pinyard's predict_proba against the model's own (a check of the whole input path)
    expected["proba"] = model.predict_proba(test.head(1_000))
    return version, bodies, expected


def check_server(
    running: Running,
    cfg: Config,
    bodies: dict[str, Path],
    expected: dict[str, Any],
    references: dict[tuple[str, str], Path],
    root: str,
    raw: Raw,
) -> None:
    """One request per scenario, decoded and compared with the model's predictions; the
    response body becomes the reference the load generator compares every response to."""
    for sc in scenarios(cfg.bulk_rows):
        if running.server not in sc.servers:
            continue
        body = post(running, bodies[sc.key].read_bytes(), sc.fmt)
        got = decode_predictions(body, sc.fmt)
        if got != expected[sc.key]:
            wrong = sum(a != b for a, b in zip(got, expected[sc.key], strict=False))
            raise AssertionError(
                f"{running.server}, {sc.label}: {len(got)} predictions, {wrong} differ from "
                f"the model's own ({len(expected[sc.key])} expected)"
            )
        ref = Path(root, f"reference-{running.server}-{sc.key}.bin")
        ref.write_bytes(body)
        references[(running.server, sc.key)] = ref
        raw.checks.append(f"{running.server} {sc.key}: {len(got)} predictions = model.predict")
    if running.server == "pinyard":
        import numpy as np

        body = post(running, bodies["json-1k"].read_bytes(), "json", "/predict_proba")
        doc = json.loads(body)
        proba = np.column_stack([doc[k] for k in sorted(doc, key=int)])
        if not np.allclose(proba, expected["proba"], rtol=1e-12, atol=1e-15):
            raise AssertionError("pinyard /predict_proba differs from model.predict_proba")
        raw.checks.append("pinyard predict_proba 1,000 rows = model.predict_proba")


def run_load(
    cfg: Config,
    running: Running,
    sc: Scenario,
    body: Path,
    reference: Path,
    cpus: dict[str, int | None],
) -> dict[str, Any]:
    cpu, cpu_of_server = cpus["load"], cpus["server"]
    kind = JSON_TYPE if sc.fmt == "json" else ARROW_TYPE
    spec = {
        "host": HOST,
        "port": running.port,
        "path": "/predict",
        "body_file": str(body),
        "content_type": kind,
        "accept": kind,
        "reference_file": str(reference),
        "concurrency": cfg.bulk_concurrency if sc.bulk else cfg.concurrency,
        "warmup_s": cfg.warmup_s,
        "duration_s": cfg.duration_s,
        "min_requests": cfg.min_requests,
        "max_s": LOAD_MAX_S,
        "cpu": cpu,
        "server_pid": running.proc.pid,
        "server_cpu": cpu_of_server,
        "nice": cfg.nice,
    }
    proc = subprocess.run(
        [sys.executable, str(HERE / "_load.py"), json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=LOAD_MAX_S + LOAD_TIMEOUT_MARGIN_S,
        check=False,
        start_new_session=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"the load generator failed:\n{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    if result["errors"] or not result["requests"]:
        raise AssertionError(
            f"{running.server}, {sc.label}: {result['errors']} error(s), "
            f"{result['requests']} good response(s) measured; first error: "
            f"{result['first_error']}\nserver log:\n{running.log_tail()}"
        )
    return result


def measure(cfg: Config, root: str) -> Raw:
    raw = Raw(load_before=list(os.getloadavg()))
    raw.cpus = choose_cpus(cfg.pin_cpus)
    log("fitting the model, pinning it, writing the request bodies")
    version, bodies, expected = prepare(cfg, root, raw)
    spec = {
        "board_dir": os.path.join(root, "board"),
        "version": version,
        "cpu": raw.cpus["server"],
        "nice": cfg.nice,
        "loop": cfg.loop,
        "http": cfg.http,
    }
    references: dict[tuple[str, str], Path] = {}
    with contextlib.ExitStack() as stack:
        running: dict[str, Running] = {}
        for server in SERVERS:
            log(f"starting the {server} server")
            running[server] = stack.enter_context(start_server(server, spec, root))
            check_server(running[server], cfg, bodies, expected, references, root, raw)
        for key in ("json-1", "json-1k"):  # same predictions from both, byte for byte
            a, b = (references[(s, key)].read_bytes() for s in SERVERS)
            if decode_predictions(a, "json") != decode_predictions(b, "json"):
                raise AssertionError(f"pinyard and vetiver disagree on {key}")
            raw.checks.append(f"pinyard and vetiver agree on {key}")
        for rep in range(cfg.repeat):
            for sc in scenarios(cfg.bulk_rows):
                order = sc.servers if rep % 2 == 0 else tuple(reversed(sc.servers))
                for server in order:
                    conc = cfg.bulk_concurrency if sc.bulk else cfg.concurrency
                    log(f"[{rep + 1}/{cfg.repeat}] {server}: {sc.label}, {conc} connections")
                    result = run_load(
                        cfg,
                        running[server],
                        sc,
                        bodies[sc.key],
                        references[(server, sc.key)],
                        raw.cpus,
                    )
                    raw.measurements.append(
                        Measurement(rep, sc.key, server, sc.rows, conc, result)
                    )
    raw.load_after = list(os.getloadavg())
    return raw


# -- summary and table ----------------------------------------------------------------


@dataclass
class Line:
    scenario: str
    server: str
    cells: list[str]
    values: dict[str, float]


def cpu_share(ms: list[Measurement], key: str) -> float | None:
    shares = [m.result[key] / m.result["window_s"] for m in ms if m.result[key] is not None]
    return med(shares) if shares else None


def summarize(cfg: Config, raw: Raw) -> tuple[list[Line], list[dict[str, Any]]]:
    lines: list[Line] = []
    by: dict[tuple[str, str], list[Measurement]] = {}
    for m in raw.measurements:
        by.setdefault((m.scenario, m.server), []).append(m)
    for sc in scenarios(cfg.bulk_rows):
        for server in sc.servers:
            ms = by[(sc.key, server)]
            rps = [m.rps for m in ms]
            rows_s = [m.rows_s for m in ms]
            p50 = med([m.result["latencies_ms"]["p50"] for m in ms])
            p99 = med([m.result["latencies_ms"]["p99"] for m in ms])
            server_cpu = cpu_share(ms, "server_cpu_s")
            client_cpu = cpu_share(ms, "client_cpu_s")
            cpu_ms = med([m.cpu_ms for m in ms])
            others = med([m.others_share for m in ms])
            cells = [
                sc.label,
                server,
                str(ms[0].concurrency),
                spread(rps, ",.0f" if med(rps) >= 100 else ",.1f"),
                spread(rows_s, ",.0f"),
                f"{p50:.2f}",
                f"{p99:.2f}",
                "" if server_cpu is None else f"{server_cpu:.0%}",
                f"{others:.0%}",
                f"{cpu_ms:,.2f}",
                "" if client_cpu is None else f"{client_cpu:.0%}",
                f"{raw.request_bytes[sc.key]:,}",
            ]
            values = {
                "requests_s": med(rps),
                "rows_s": med(rows_s),
                "p50_ms": p50,
                "p99_ms": p99,
                "server_cpu": server_cpu if server_cpu is not None else float("nan"),
                "server_cpu_ms_per_request": cpu_ms,
                "others_on_server_cpu": others,
                "client_cpu": client_cpu if client_cpu is not None else float("nan"),
            }
            lines.append(Line(sc.key, server, cells, values))

    def paired(a: tuple[str, str], b: tuple[str, str], rate: str) -> list[float]:
        """Ratios a/b per repetition (the two measured back to back)."""
        xs, ys = by[a], by[b]
        return [getattr(x, rate) / getattr(y, rate) for x, y in zip(xs, ys, strict=True)]

    ratios: list[dict[str, Any]] = []

    def ratio(label: str, values: list[float], goal: float | None) -> None:
        text = f"{label}: {med(values):.2f}x"
        if len(values) > 1:
            text += f" [{min(values):.2f}-{max(values):.2f}]"
        if goal is not None:
            text += f" (goal >= {goal:g}x: {'met' if med(values) >= goal else 'NOT met'})"
        else:
            text += " (info)"
        ratios.append(
            {
                "label": label,
                "ratio": med(values),
                "per_repeat": values,
                "goal": goal,
                "met": None if goal is None else med(values) >= goal,
                "text": text,
            }
        )

    rows = f"{cfg.bulk_rows:,} rows"
    py, vt = "pinyard", "vetiver"
    specs: list[tuple[str, tuple[str, str], tuple[str, str], str, float | None]] = [
        ("pinyard/vetiver throughput, 1 row", ("json-1", py), ("json-1", vt), "rps",
         THROUGHPUT_GOAL),
        ("pinyard/vetiver throughput, 1,000 rows", ("json-1k", py), ("json-1k", vt), "rps",
         THROUGHPUT_GOAL),
        (f"Arrow bulk rows/s / JSON rows/s ({rows}, pinyard)", ("arrow-bulk", py),
         ("json-bulk", py), "rows_s", ARROW_GOAL),
        ("Arrow rows/s / JSON rows/s (1,000 rows, pinyard)", ("arrow-1k", py), ("json-1k", py),
         "rows_s", None),
        ("pinyard Arrow 1,000 rows / vetiver JSON 1,000 rows, rows/s", ("arrow-1k", py),
         ("json-1k", vt), "rows_s", None),
        (f"pinyard JSON {rows} / JSON 1,000 rows, rows/s", ("json-bulk", py), ("json-1k", py),
         "rows_s", None),
    ]  # fmt: skip
    for label, a, b, rate, goal in specs:
        ratio(label, paired(a, b, rate), goal)
    for rows_label, key in (("1 row", "json-1"), ("1,000 rows", "json-1k")):
        # vetiver's CPU time per request / pinyard's: the throughput ratio the two would
        # have if each had its CPU to itself (information: it ignores idle waits)
        ratio(f"vetiver/pinyard server CPU per request, {rows_label}",
              paired((key, vt), (key, py), "cpu_ms"), None)  # fmt: skip
    return lines, ratios


HEADINGS = (
    "scenario",
    "server",
    "conns",
    "requests/s",
    "rows/s",
    "p50 ms",
    "p99 ms",
    "server CPU",
    "others",
    "CPU ms/req",
    "client CPU",
    "request bytes",
)
RIGHT = set(range(2, 12))  # right-aligned (numeric) columns


def render(lines: list[Line]) -> str:
    cells = [list(HEADINGS)] + [line.cells for line in lines]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADINGS))]
    out = []
    for n, c in enumerate(cells):
        parts = [
            v.rjust(w) if i in RIGHT else v.ljust(w)
            for i, (v, w) in enumerate(zip(c, widths, strict=True))
        ]
        out.append(" | ".join(parts).rstrip())
        if n == 0:
            out.append("-+-".join("-" * w for w in widths))
    return "\n".join(out)


def versions() -> dict[str, str]:
    names = ("pinyard", "vetiver", "fastapi", "starlette", "uvicorn", "pydantic", "h11",
             "scikit-learn", "pandas", "pyarrow", "numpy")  # fmt: skip
    found = {}
    for name in names:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "-"
    return found


def parse_args(argv: Sequence[str]) -> tuple[Config, Path]:
    parser = argparse.ArgumentParser(
        description="Benchmark pinyard's model server against vetiver's VetiverAPI (same run)."
    )
    parser.add_argument("--duration", type=float, help="measured seconds per run (default 10)")
    parser.add_argument("--warmup", type=float, help="unmeasured seconds before it (default 2)")
    parser.add_argument(
        "--concurrency", type=int, default=8, help="connections, 1- and 1,000-row runs (8)"
    )
    parser.add_argument(
        "--bulk-concurrency", type=int, default=2, help="connections, bulk runs (2)"
    )
    parser.add_argument("--bulk-rows", type=int, default=100_000, help="rows per bulk request")
    parser.add_argument(
        "--min-requests",
        type=int,
        help="responses measured at least, however long that takes (default 10, quick 4)",
    )
    parser.add_argument("--repeat", type=int, help="runs of every measurement (default 3)")
    parser.add_argument(
        "--quick", action="store_true", help="3 s runs, 1 s warm-up, 1 repeat unless given"
    )
    parser.add_argument(
        "--no-pin",
        action="store_true",
        help="do not pin the servers and the load generator to separate CPUs",
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="run the servers and the load generator at this nice value, each in a session "
        "(autogroup) of its own: -10 shields them from other work on a shared machine "
        "(negative values need root; default 0)",
    )
    parser.add_argument(
        "--loop", default="auto", choices=("auto", "asyncio", "uvloop"), help="uvicorn loop"
    )
    parser.add_argument(
        "--http", default="auto", choices=("auto", "h11", "httptools"), help="uvicorn HTTP"
    )
    parser.add_argument("--tmp-dir", help="where the board and bodies go (default: $TMPDIR)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write results")
    args = parser.parse_args(argv)
    quick = bool(args.quick)
    loop, http = resolve_uvicorn(args.loop, args.http)
    cfg = Config(
        duration_s=args.duration or (3.0 if quick else 10.0),
        warmup_s=args.warmup if args.warmup is not None else (1.0 if quick else 2.0),
        concurrency=args.concurrency,
        bulk_concurrency=args.bulk_concurrency,
        bulk_rows=args.bulk_rows,
        min_requests=args.min_requests or (4 if quick else 10),
        repeat=args.repeat or (1 if quick else 3),
        pin_cpus=not args.no_pin,
        nice=args.nice,
        loop=loop,
        http=http,
        tmp_dir=args.tmp_dir or tempfile.gettempdir(),
        quick=quick,
    )
    if cfg.duration_s <= 0 or cfg.warmup_s < 0 or cfg.repeat < 1 or cfg.min_requests < 1:
        parser.error("need --duration > 0, --warmup >= 0, --repeat >= 1, --min-requests >= 1")
    if cfg.concurrency < 1 or cfg.bulk_concurrency < 1 or cfg.bulk_rows < 1_000:
        parser.error("need --concurrency >= 1, --bulk-concurrency >= 1, --bulk-rows >= 1000")
    return cfg, args.json


def main(argv: Sequence[str]) -> int:
    cfg, json_path = parse_args(argv)
    started = time.perf_counter()
    root = tempfile.mkdtemp(prefix="pinyard-bench-serving-", dir=cfg.tmp_dir)
    try:
        raw = measure(cfg, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    wall = time.perf_counter() - started
    lines, ratios = summarize(cfg, raw)
    vs = versions()

    cpus = raw.cpus
    if cpus["server"] is None:
        pinning = "not pinned to CPUs"
    else:
        pinning = f"servers pinned to CPU {cpus['server']}, load generator to CPU {cpus['load']}"
    if cfg.nice:
        pinning += f", servers and load generator at nice {cfg.nice}"
    loop_note = "" if importlib.util.find_spec("uvloop") else " (uvloop not installed)"
    http_note = "" if importlib.util.find_spec("httptools") else " (httptools not installed)"
    print(
        f"pinyard {vs['pinyard']} vs vetiver {vs['vetiver']} | Python "
        f"{platform.python_version()} | {os.cpu_count()} CPUs, {pinning} | load average "
        f"{raw.load_before[0]:.2f} before, {raw.load_after[0]:.2f} after | {wall:.0f} s"
    )
    print(
        f"both servers: uvicorn {vs['uvicorn']}, 1 worker, loop {cfg.loop}{loop_note}, http "
        f"{cfg.http}{http_note}, log_level warning, no access log | fastapi {vs['fastapi']}, "
        f"starlette {vs['starlette']}, pydantic {vs['pydantic']}, scikit-learn "
        f"{vs['scikit-learn']}, pandas {vs['pandas']}, pyarrow {vs['pyarrow']}"
    )
    print(
        f"model: StandardScaler + LogisticRegression (3 classes), {len(COLUMNS)} float64 "
        f"columns | load: keep-alive HTTP/1.1, closed loop, {cfg.warmup_s:g} s warm-up + "
        f"{cfg.duration_s:g} s measured, median of {cfg.repeat} [min-max] | "
        f"checks: {len(raw.checks)} passed, every response 200 and byte-equal to a checked one"
    )
    print(render(lines))
    for r in ratios:
        print(r["text"])
    busy = [m for m in raw.measurements if m.others_share > BUSY_OTHERS]
    if busy:
        where = "on the servers' CPU" if cpus["server"] is not None else "on the machine"
        print(
            f"note: in {len(busy)} of {len(raw.measurements)} runs other processes used more "
            f"than {BUSY_OTHERS:.0%} of a CPU {where} (column 'others'), which takes CPU "
            "time from the server and lowers its requests/s unevenly: compare the CPU ms/req "
            "column and the CPU-per-request ratios, and re-run on an idle machine"
        )

    json_path.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "config": asdict(cfg),
        "environment": {
            **vs,
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "pinning": cpus,
            "platform": platform.platform(),
            "load_average_before": raw.load_before,
            "load_average_after": raw.load_after,
            "wall_seconds": wall,
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
        "summary": [{"scenario": ln.scenario, "server": ln.server, **ln.values} for ln in lines],
        "ratios": ratios,
        "checks": raw.checks,
        "request_bytes": raw.request_bytes,
        "raw": [asdict(m) for m in raw.measurements],
    }
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    log(f"results written to {json_path}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "_server":
        server_main(json.loads(sys.argv[2]))
    else:
        sys.exit(main(sys.argv[1:]))
