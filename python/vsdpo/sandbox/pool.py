"""SandboxPool: warm fork-server workers that run untrusted programs, and what they report.

The pool starts ``workers`` processes (``python -m vsdpo.sandbox.worker``), each of which has
already imported the preload modules and the runner. A job goes to an idle worker, which forks
an isolated child for it (see :mod:`vsdpo.sandbox.worker`). If a worker dies or stops
answering, it is killed and replaced, and the job gets a clear error. The caller never sees an
exception for anything a program does: every outcome is a :class:`SandboxResult`.

The job's result travels back as a pickle written by the job process, i.e. by untrusted code.
It is decoded with :class:`RestrictedUnpickler`, which only resolves plain containers, numpy
arrays and the vsdpo.artifact dataclasses (plus names the pool is told to allow), so a forged
pickle cannot run code in the caller.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from vsdpo.artifact import ExecError
from vsdpo.sandbox import errors
from vsdpo.sandbox.limits import Limits
from vsdpo.sandbox.worker import read_frame_bytes, write_frame

# How long a worker may take to import its preload modules, and how long past a job's own
# deadline it may take to report before it is declared hung.
_START_TIMEOUT_S = 120.0
_REPLY_GRACE_S = 10.0

_SAFE_GLOBALS = frozenset(
    {
        ("builtins", n)
        for n in (
            "set",
            "frozenset",
            "complex",
            "bytearray",
            "slice",
            "range",
            "bool",
            "int",
            "float",
            "str",
            "bytes",
            "list",
            "tuple",
            "dict",
        )
    }
    | {("collections", "OrderedDict")}
    | {
        (mod, n)
        for mod in ("numpy._core.multiarray", "numpy.core.multiarray")
        for n in ("_reconstruct", "scalar")
    }
    | {(mod, "_frombuffer") for mod in ("numpy._core.numeric", "numpy.core.numeric")}
    | {("numpy", "ndarray"), ("numpy", "dtype")}
    | {("vsdpo.artifact", n) for n in ("Element", "ExecError", "RenderResult", "Defect")}
)


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles only allow-listed globals (``module:name`` strings in ``extra``)."""

    def __init__(self, data: bytes, extra: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__(io.BytesIO(data))
        self._allowed = _SAFE_GLOBALS | frozenset(extra)

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self._allowed or (module == "numpy.dtypes" and name.endswith("DType")):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"the sandboxed result may not contain {module}.{name}")


@dataclass
class SandboxResult:
    """What running one program in the sandbox produced."""

    ok: bool  # the runner returned normally
    status: str  # "ok" | "error" | "timeout" | "memory" | "crash" | "exit" | "output_limit"
    value: Any = None  # what the runner returned (picklable), when ok
    error: ExecError | None = None
    stdout: str = ""  # captured, truncated to max_output_bytes
    stderr: str = ""
    wall_s: float = 0.0  # the whole round trip, as the caller saw it
    job_wall_s: float = 0.0  # fork to finish, measured by the worker
    layers: list[str] = field(default_factory=list)  # the isolation layers that were active
    uid: int | None = None  # the uid the job ran as (None when unknown)


_WORKER_BOOT = "import sys; from vsdpo.sandbox.worker import main; sys.exit(main())"


class _Worker:
    """One warm worker process and its pipes."""

    def __init__(self, config: dict) -> None:
        env = dict(os.environ)
        env.update(
            MPLBACKEND="Agg",
            OPENBLAS_NUM_THREADS="1",
            OMP_NUM_THREADS="1",
            MKL_NUM_THREADS="1",
            NUMEXPR_NUM_THREADS="1",
            PYTHONDONTWRITEBYTECODE="1",
        )
        # The worker imports the runner from wherever the caller could (pytest's rootdir, ...).
        paths = [p for p in sys.path if p and os.path.isdir(p)]
        env["PYTHONPATH"] = os.pathsep.join(
            dict.fromkeys(paths + env.get("PYTHONPATH", "").split(os.pathsep))
        )
        self.proc = subprocess.Popen(
            # -c rather than -m: the package imports the worker module, and runpy warns about
            # running a module that is already imported.
            [sys.executable, "-c", _WORKER_BOOT, json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            start_new_session=True,  # our Ctrl-C is not its business; killpg reaches it
        )
        self.ready: dict | None = None
        self.jobs_done = 0

    def wait_ready(self) -> dict:
        """The worker's "ready" frame; raises RuntimeError if it could not start."""
        if self.ready is None:
            try:
                raw = read_frame_bytes(
                    self.proc.stdout.fileno(), time.monotonic() + _START_TIMEOUT_S
                )
            except TimeoutError:
                raw = None
            msg = pickle.loads(raw) if raw is not None else {"ready": False, "error": "no answer"}
            if not msg.get("ready"):
                self.kill()
                raise RuntimeError(
                    f"sandbox worker failed to start: {msg.get('error')}\n{msg.get('traceback', '')}"
                )
            self.ready = msg
        return self.ready

    def request(self, job: dict, timeout_s: float) -> dict | None:
        """Send a job and wait for the reply; None if the worker died or hung."""
        try:
            write_frame(self.proc.stdin.fileno(), job)
            raw = read_frame_bytes(self.proc.stdout.fileno(), time.monotonic() + timeout_s)
        except (OSError, TimeoutError):
            return None
        return pickle.loads(raw) if raw is not None else None

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass

    def close(self) -> None:
        """Ask politely (EOF on stdin), then kill."""
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()


class SandboxPool:
    """A pool of warm sandbox workers running ``runner(code, args)`` on untrusted code.

    ``runner`` is ``"package.module:function"``; it is imported in every worker (with the
    ``preload`` modules) before any job, and called in a fresh isolated process per job with
    cwd = an empty private temp dir. ``allowed_globals`` extends the types a runner may return
    (``"module:name"`` strings) beyond plain containers, numpy arrays and vsdpo.artifact types.
    ``expose`` lists extra host directories the job must be able to read.
    """

    def __init__(
        self,
        runner: str,
        *,
        workers: int | None = None,
        limits: Limits | None = None,
        preload: Sequence[str] = (),
        allowed_globals: Iterable[str] = (),
        expose: Sequence[str] = (),
    ) -> None:
        self.limits = limits or Limits()
        self.n_workers = workers or max(1, len(os.sched_getaffinity(0)))
        self._config = {"runner": runner, "preload": list(preload), "expose": list(expose)}
        self._allowed = frozenset(tuple(s.split(":", 1)) for s in allowed_globals)
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: set[_Worker] = set()
        self._lock = threading.Lock()
        self._closed = False
        self.replaced = 0  # how many workers were killed and replaced
        started = [_Worker(self._config) for _ in range(self.n_workers)]
        self._all.update(started)
        try:
            for w in started:
                w.wait_ready()
        except BaseException:
            self.close()
            raise
        for w in started:
            self._idle.put(w)
        self.layers: list[str] = list(started[0].ready.get("layers", []))

    # --------------------------------------------------------------------------- public API

    def run(
        self, code: str, args: dict | None = None, limits: Limits | None = None
    ) -> SandboxResult:
        """Run one program; always returns a SandboxResult (never raises for the program)."""
        if self._closed:
            raise RuntimeError("the SandboxPool is closed")
        limits = limits or self.limits
        job = {"code": code, "args": args or {}, "limits": limits.to_dict()}
        t0 = time.monotonic()
        worker = self._idle.get()
        try:
            try:
                worker.wait_ready()
            except RuntimeError:
                worker = self._replace(worker)
                worker.wait_ready()
            reply = worker.request(job, limits.timeout_s + _REPLY_GRACE_S)
            if reply is None:
                alive = worker.proc.poll() is None
                worker = self._replace(worker)
                result = SandboxResult(
                    ok=False,
                    status="timeout" if alive else "crash",
                    error=ExecError(
                        "SandboxWorkerHung" if alive else "SandboxWorkerDied",
                        "the sandbox worker stopped answering and was replaced"
                        if alive
                        else "the sandbox worker died and was replaced",
                    ),
                )
            else:
                worker.jobs_done += 1
                result = self._decode(reply, limits)
        finally:
            self._idle.put(worker)
        result.wall_s = time.monotonic() - t0
        return result

    def map(
        self, codes: Sequence[str], args: Sequence[dict] | None = None, limits: Limits | None = None
    ) -> list[SandboxResult]:
        """Run many programs across all workers; results in input order."""
        if args is not None and len(args) != len(codes):
            raise ValueError(f"got {len(codes)} codes but {len(args)} args")
        arg_list = list(args) if args is not None else [None] * len(codes)
        with ThreadPoolExecutor(max_workers=self.n_workers) as ex:
            return list(ex.map(lambda ca: self.run(ca[0], ca[1], limits), zip(codes, arg_list)))

    def close(self) -> None:
        """Stop every worker (idempotent)."""
        self._closed = True
        with self._lock:
            workers, self._all = list(self._all), set()
        for w in workers:
            w.close()

    def __enter__(self) -> SandboxPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            self.close()

    # --------------------------------------------------------------------------- internals

    def _replace(self, worker: _Worker) -> _Worker:
        worker.kill()
        fresh = _Worker(self._config)
        with self._lock:
            self._all.discard(worker)
            self._all.add(fresh)
            self.replaced += 1
        return fresh

    def _decode(self, reply: dict, limits: Limits) -> SandboxResult:
        out = reply["stdout"][: limits.max_output_bytes].decode("utf-8", "replace")
        err = reply["stderr"][: limits.max_output_bytes].decode("utf-8", "replace")
        base = SandboxResult(
            ok=False,
            status="crash",
            stdout=out,
            stderr=err,
            job_wall_s=float(reply.get("job_wall_s") or 0.0),
            layers=list(reply.get("layers") or []),
            uid=reply.get("uid"),
        )
        if reply.get("setup_error"):
            return replace(
                base,
                error=ExecError(
                    "SandboxSetupError", "the sandbox could not be set up", reply["setup_error"]
                ),
            )
        payload = reply.get("result")
        if payload is None:
            status, error = errors.describe_termination(
                reply.get("wait_status"), reply.get("kill_reason"), limits
            )
            return replace(base, status=status, error=error)
        try:
            msg = RestrictedUnpickler(payload, self._allowed).load()
            if not isinstance(msg, dict):
                raise pickle.UnpicklingError("the result is not a dict")
        except Exception as exc:  # noqa: BLE001 - anything in a forged or broken pickle
            return replace(
                base,
                status="error",
                error=ExecError(
                    "SandboxResultError", f"the job's result could not be decoded: {exc}"
                ),
            )
        layers = msg.get("layers")
        if isinstance(layers, list):
            base.layers = [str(x) for x in layers]
        if msg.get("ok") is True:
            return replace(base, ok=True, status="ok", value=msg.get("value"))
        status = msg.get("status")
        if status not in ("error", "memory", "crash"):
            status = "error"
        return replace(base, status=status, error=errors.error_from_description(msg))
