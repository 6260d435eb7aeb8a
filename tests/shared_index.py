"""Fixtures for the shared index (several processes, one catalog): a fresh PostgreSQL database per test and a real
`chroma run` server. Imported by the test modules that use them."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from db_fixtures import POSTGRES_URL, fresh_database
from helpers import IN_CI

from rag.stores.shared import shared_catalog_url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """An empty PostgreSQL database of the test's own (asyncpg URL, as RAGBOT_DATABASE__URL takes it)."""
    if not POSTGRES_URL:
        if IN_CI:
            pytest.fail('CI must run the shared-index tests: .ci/run needs eval "$(bash .ci/postgres.sh)"')
        pytest.skip("RAGBOT_TEST_POSTGRES_URL is not set (see .ci/postgres.sh)")
    async with fresh_database("ragbot_s") as url:
        yield url


def catalog_url(url: str) -> str:
    """The same database as the shared catalog opens it (a libpq URL, for psycopg)."""
    found = shared_catalog_url(url, "chroma")
    assert found is not None
    return found


def _chroma_binary() -> str:
    found = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
    if not Path(found).exists():
        pytest.fail("the `chroma` command (installed with chromadb) is missing")
    return found


def start_chroma(path: Path, log_path: Path) -> tuple[subprocess.Popen[bytes], int]:
    """`chroma run` on `path` (a folder an embedded store wrote works as is) on a free loopback port."""
    port = free_port()
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [_chroma_binary(), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"chroma server exited: {log_path.read_text()[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc, port
        time.sleep(0.2)
    proc.kill()
    pytest.fail("chroma server did not start within 60 s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture
def chroma_from_index(tmp_path: Path, _corpus_index: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """A chroma server (its process and port) holding the session-built corpus vectors, copied: ingesting the
    corpus into a fresh shared catalog finds every vector there and embeds nothing."""
    folder = tmp_path / "chroma-server"
    shutil.copytree(_corpus_index / "chroma", folder)
    proc, port = start_chroma(folder, tmp_path / "chroma.log")
    try:
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)  # a test may have paused it
        stop(proc)
