"""The sharing example runs against S3 (moto) the way a user runs it, in a venv with
exactly the extras it names."""

from __future__ import annotations

import os
import re
import subprocess

from tests._example_envs import EXAMPLES, example_python
from tests.backends.conftest import Bucket


def test_share_on_s3(s3_bucket: Bucket) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL=s3_bucket.server.endpoint_url,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        PINYARD_PROGRESS="0",
    )
    url = f"s3://{s3_bucket.name}/team-board"
    done = subprocess.run(
        [str(example_python("share_on_s3.py")), str(EXAMPLES / "share_on_s3.py"), url],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert f"bob: pins on {url}: ['revenue-model', 'sales']" in out
    shared = re.search(r"alice: revenue-model -> (\S+); tells Bob", out)
    assert shared is not None
    assert f"bob: revenue-model@{shared.group(1)} =" in out
    assert "bob: local cache holds 2 file(s)" in out
    versions = s3_bucket.fs.ls(f"{s3_bucket.name}/team-board/pins/revenue-model")
    assert len(versions) == 2
