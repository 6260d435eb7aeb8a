"""`ragbot` commands without paying for their imports each time: a warm Python process, which has imported the
app and its libraries once, forks a child for each command. The child is a process of its own, as `ragbot` run
from a shell is: the command's arguments, its environment, its folder, its own stdin/stdout/stderr, and an exit
status (or the signal that ended it). It runs what the console script runs, `ragbot.cli:main`.

Only commands whose environment differs from the warm process's in RAGBOT_* variables alone go through it:
everything else (PYTHON*, LANG, ...) is read when an interpreter or a library starts, so those commands, and
every command when the warm process cannot start or its imports printed anything, run as a plain subprocess.
Tests that drive a command interactively or signal it (`ragbot chat`, `ragbot run`) start the console script.

Run as a script (`python warm_ragbot.py SOCKET [MODEL_DIR ...]`) it is the warm process; it ends when its parent
closes its stdin.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import gc
import os
import pickle
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

# What a command imports before it does anything: the entry package, the core, moderator data and their libraries.
# Not psycopg (the embedded default never loads it) nor matplotlib (only `stats --plot` does). Not onnxruntime
# either, unless it is safe (`_load_models`): importing it starts a native thread on some machines (seen here
# unless CI is set), which a forked child lacks. Each command imports it (~0.03 s once numpy is loaded).
PRELOAD = (
    "ragbot.cli",
    "ragbot.wiring",
    "ragbot.doctor",
    "ragbot.startup",
    "rag.config",
    "rag.service",
    "rag.index",
    "rag.ingest",
    "rag.stores.chroma",
    "rag.embeddings.onnx",
    "rag.llm.openai_chat",
    "curation.db",
    "chromadb",
    "tokenizers",
    "openai",
    "sqlalchemy.ext.asyncio",
    "aiosqlite",
    "alembic.command",
)
# What commands import on their way (measured: the modules a child had that the warm process had not). Internals of
# libraries, which a new version may rename: one that is gone is imported by the commands that need it.
PRELOAD_IF_PRESENT = (
    "chromadb.api.rust",  # ~0.14 s: what a command opening the store pays first
    "chromadb.telemetry.product.posthog",
    "Stemmer",
    "multiprocessing.synchronize",
    "rag.embeddings.batching",
    "rag.settings_env",
    "typer._adapters",
    "typer._click.decorators",
    "typer.rich_utils",  # usage errors and --help
)
_MAX_MESSAGE = 1 << 20


# --- the warm process --------------------------------------------------------------------------------------
def _preload() -> None:
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)  # a name that is gone fails the start: the commands then run as subprocesses
    for name in PRELOAD_IF_PRESENT:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    # Data every answering command loads the same way, kept by tiktoken once loaded: the token tables (~20 ms).
    from rag.tokens import get_encoding

    get_encoding()


def _load_models(folders: Sequence[str]) -> None:
    """The inference sessions of the models the commands use, on one thread as the tests run them: the app keeps
    one per model file in a process (rag.embeddings.onnx), and building it costs a command ~0.12 s of CPU. Only
    where importing onnxruntime starts no thread: a child tries that first, and the caller checks again after."""
    if not folders:
        return
    probe = os.fork()
    if probe == 0:
        try:
            import onnxruntime  # noqa: F401

            os._exit(0 if _threads() == 1 else 1)
        except BaseException:
            os._exit(1)
    if os.waitstatus_to_exitcode(os.waitpid(probe, 0)[1]) != 0:
        return
    from rag.embeddings.onnx import open_onnx_model

    for folder in folders:
        with contextlib.suppress(Exception):  # a command that needs a broken model says so itself
            open_onnx_model(Path(folder), threads=1)


def _serve(path: str) -> tuple[dict[str, Any], list[int]]:
    """Answer requests until the parent goes away; in a forked child, return its request and descriptors."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(path)
    listener.listen(8)
    os.write(1, b"ready\n")
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    selector.register(0, selectors.EVENT_READ)
    while True:
        for key, _ in selector.select():
            if key.fileobj == 0:
                if not os.read(0, 4096):
                    sys.exit(0)  # the test process is gone
                continue
            conn, _ = listener.accept()
            message, fds, _, _ = socket.recv_fds(conn, _MAX_MESSAGE, 3)
            pid = os.fork()
            if pid == 0:
                selector.close()
                listener.close()
                conn.close()
                return pickle.loads(message), fds
            for fd in fds:
                os.close(fd)
            with contextlib.suppress(OSError):  # a caller that timed out has gone: serve the next one
                conn.send(pickle.dumps(pid))
            _, status = os.waitpid(pid, 0)
            with contextlib.suppress(OSError):
                conn.send(pickle.dumps(os.waitstatus_to_exitcode(status)))
            conn.close()


def _become_the_command(request: dict[str, Any], fds: list[int]) -> None:
    for target, fd in enumerate(fds):  # stdin, stdout, stderr
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environb.update(request["env"])
    sys.argv = [os.fsdecode(arg) for arg in request["argv"]]
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _threads() -> int:
    """This process's threads, native ones included (threading only knows those Python started)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


def _warm_main(path: str, models: Sequence[str]) -> None:
    # numpy's OpenBLAS starts a pool of threads when it loads, sized by this variable. Each command reads its own
    # environment, not this one; the OpenBLAS it inherits computes on one thread.
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    _preload()
    _load_models(models)
    # A fork copies only the calling thread: whatever another thread held or waited on stays so in the child.
    if _threads() != 1:
        sys.exit(f"an import started a thread ({_threads()} threads; Python's: {threading.enumerate()})")
    # The children do not scan, nor on exit tear down page by page, what every one of them inherits: without
    # this a command's exit cost ~0.6 s, copying the shared pages it touched.
    gc.freeze()
    request, fds = _serve(path)
    _become_the_command(request, fds)
    from ragbot.cli import main  # the console script's entry point ([project.scripts] in pyproject.toml)

    os._exit(_run_as_a_process(main))


def _run_as_a_process(main: Callable[[], object]) -> int:
    """`main` run and ended as the interpreter ends a script, in what a user sees: an uncaught exception's
    traceback, a SystemExit's status or message, other threads waited for, atexit handlers run, garbage finalized
    (a leaked resource's warning is printed), the standard streams flushed (120 if that fails), C's stdio too.
    The exit status is returned for os._exit, which skips the rest: tearing down every module, which in a forked
    child copies page after page shared with the warm process (~0.07 s a command), and libraries' C++ destructors."""
    try:
        main()
        status = 0
    except SystemExit as exc:
        status = _exit_status(exc.code)
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # the interpreter ends by the signal, as here
        os.kill(os.getpid(), signal.SIGINT)
        status = 130
    except BaseException:
        sys.excepthook(*sys.exc_info())
        status = 1
    threading._shutdown()  # type: ignore[attr-defined]  # what Py_Finalize runs first: non-daemon threads end
    atexit._run_exitfuncs()
    gc.collect()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            status = 120
    with contextlib.suppress(OSError, AttributeError):  # what native libraries wrote through C's stdio, as exit()
        ctypes.CDLL(None).fflush(None)
    return status


def _exit_status(code: object) -> int:
    """What the interpreter exits with for SystemExit(code)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


# --- the test side -----------------------------------------------------------------------------------------
class WarmRagbot:
    """The warm process of one test process (one per pytest-xdist worker); `run` is `subprocess.run` for it."""

    def __init__(self, python: str, env: Mapping[str, str] | None = None, models: Sequence[str] = ()) -> None:
        """The warm process runs `python` with `env` (default: this process's environment) and loads the ONNX
        model folders `models` for the commands."""
        self._lock = threading.Lock()
        self._folder = tempfile.mkdtemp(prefix="warm-ragbot-")
        self._socket = os.path.join(self._folder, "socket")
        self._env = _base_environment(os.environ if env is None else env)
        self.forked = 0  # commands run as a forked child (the others ran as a plain subprocess)
        self._log = open(os.path.join(self._folder, "stderr"), "w+b")  # noqa: SIM115 - lives with the process
        self._process: subprocess.Popen[bytes] | None = subprocess.Popen(
            [python, __file__, self._socket, *models],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=self._env,
        )
        assert self._process.stdout is not None
        ready = self._process.stdout.readline() == b"ready\n"
        self._log.seek(0)
        noise = self._log.read()
        if not ready or noise:  # a command would have printed that: let real processes show it
            self.close()
            # Shown in pytest's warnings summary: the run stays correct, only slower.
            warnings.warn(f"warm ragbot not used: {noise.decode(errors='replace')[-500:]}", RuntimeWarning, 2)

    def close(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            process.kill()
            process.wait()
        self._log.close()
        shutil.rmtree(self._folder, ignore_errors=True)

    def run(
        self, argv: Sequence[str | bytes], env: Mapping[str, str], cwd: Path, timeout: float
    ) -> subprocess.CompletedProcess[bytes]:
        """`argv` run with exactly `env` in `cwd`, stdin empty, stdout and stderr captured."""
        if self._process is None or _base_environment(env) != self._env:
            return subprocess.run(list(argv), env=dict(env), cwd=cwd, capture_output=True, timeout=timeout)
        with self._lock:  # one command at a time per warm process, as the tests run them
            self.forked += 1
            return self._fork(argv, env, cwd, timeout)

    def _fork(
        self, argv: Sequence[str | bytes], env: Mapping[str, str], cwd: Path, timeout: float
    ) -> subprocess.CompletedProcess[bytes]:
        request = {
            "argv": [os.fsencode(arg) for arg in argv],
            "env": {os.fsencode(k): os.fsencode(v) for k, v in env.items()},
            "cwd": os.fsencode(cwd),
        }
        out_read, out_write = os.pipe()
        err_read, err_write = os.pipe()
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as conn:
            conn.connect(self._socket)
            with open(os.devnull, "rb") as stdin:
                socket.send_fds(conn, [pickle.dumps(request)], [stdin.fileno(), out_write, err_write])
            os.close(out_write)
            os.close(err_write)
            conn.settimeout(timeout)
            pid: int = pickle.loads(conn.recv(_MAX_MESSAGE))
            outputs = _read_both(out_read, err_read, timeout)
            try:
                code: int = pickle.loads(conn.recv(_MAX_MESSAGE))
            except TimeoutError:
                os.kill(pid, signal.SIGKILL)
                raise subprocess.TimeoutExpired(list(argv), timeout) from None
        return subprocess.CompletedProcess(list(argv), code, outputs[0], outputs[1])


def _read_both(out_fd: int, err_fd: int, timeout: float) -> tuple[bytes, bytes]:
    """Everything written to the two pipes until the command (and whatever inherited them) closes them."""
    chunks: dict[int, list[bytes]] = {out_fd: [], err_fd: []}
    with selectors.DefaultSelector() as selector:
        for fd in chunks:
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map():
            ready = selector.select(timeout)
            if not ready:
                break  # the caller's recv times out next and kills the command
            for key, _ in ready:
                data = os.read(key.fd, 65536)
                if data:
                    chunks[key.fd].append(data)
                else:
                    selector.unregister(key.fd)
                    os.close(key.fd)
    for fd in (out_fd, err_fd):
        with contextlib.suppress(OSError):
            os.close(fd)
    return b"".join(chunks[out_fd]), b"".join(chunks[err_fd])


def _base_environment(env: Mapping[str, str]) -> dict[str, str]:
    """What must match between the warm process and a command: all but the app's settings (read by each command
    as it starts) and the name of the running test (which pytest changes as it goes)."""
    return {k: v for k, v in env.items() if not k.startswith("RAGBOT_") and k != "PYTEST_CURRENT_TEST"}


_warm: WarmRagbot | None = None
# The ONNX model folders the commands use, for the warm process to load: filled before its first command
# (tests/conftest.py adds the embedding model the tests found).
MODELS: list[str] = []


def warm_ragbot() -> WarmRagbot:
    """This test process's warm process, started on first use and stopped when the tests end."""
    global _warm
    if _warm is None:
        import atexit

        _warm = WarmRagbot(sys.executable, models=MODELS)
        atexit.register(_warm.close)
    return _warm


if __name__ == "__main__":
    _warm_main(sys.argv[1], sys.argv[2:])
