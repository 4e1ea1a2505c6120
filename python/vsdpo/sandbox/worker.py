"""The warm worker: a fork server ("zygote") that runs each job in a fresh, isolated child.

Started by :class:`~vsdpo.sandbox.pool.SandboxPool` as ``python -m vsdpo.sandbox.worker CONFIG``.
It imports the preload modules and the runner once, enters a private read-only mount namespace
(:func:`~vsdpo.sandbox.limits.prepare_worker_namespace`), says "ready", then serves jobs read
from stdin, one at a time. For each job it forks three processes:

``sandbox``  (in the worker's PID namespace) ``setsid``, new mount/net/PID/IPC/UTS namespaces,
             a fresh tmpfs as the job's cwd; waits for ``init``.
``init``     PID 1 of the job's PID namespace: mounts a private /proc, forks ``job``, reaps
             orphans and reports ``job``'s wait status. When it exits, the kernel kills every
             process the job left behind, whatever its session or process group.
``job``      drops to the job uid, applies rlimits and the audit hook, points fd 0 at
             /dev/null and fds 1/2 at pipes, calls ``runner(code, args)`` and writes the
             pickled result to a pipe.

The worker itself never runs user code, so nothing a program monkeypatches (rcParams, open
figures, sys.modules, signal handlers) survives its job: each job starts from a clean copy of
the warm process. That is why no ``plt.close('all')`` / ``matplotlib.rcdefaults()`` is needed
between jobs. The worker enforces the wall-clock deadline and the output cap by reading the
job's pipes in a ``select`` loop and killing the sandbox's process group (``SIGKILL``), which
takes down the job's PID namespace with it.

Wire format, both directions: an 8-byte big-endian length, then a pickle. Only the trusted pool
and worker unpickle each other's frames; the job's result bytes are passed through unopened and
decoded by the pool with a restricted unpickler.
"""

from __future__ import annotations

import gc
import importlib
import json
import linecache
import os
import pickle
import select
import shutil
import signal
import struct
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from typing import Any

_HEADER = struct.Struct(">Q")


# ----------------------------------------------------------------------------- framing


def write_frame(fd: int, obj: Any) -> None:
    """Write one length-prefixed pickle to ``fd``."""
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    _write_all(fd, _HEADER.pack(len(data)) + data)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def read_exact(fd: int, n: int, deadline: float | None = None) -> bytes | None:
    """Read exactly ``n`` bytes; None on EOF; TimeoutError past ``deadline`` (monotonic)."""
    chunks, got = [], 0
    while got < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def read_frame_bytes(fd: int, deadline: float | None = None) -> bytes | None:
    head = read_exact(fd, _HEADER.size, deadline)
    if head is None:
        return None
    return read_exact(fd, _HEADER.unpack(head)[0], deadline)


def split_frame(data: bytes) -> bytes | None:
    """The payload of a complete frame in ``data``, or None if ``data`` is not exactly one."""
    if len(data) < _HEADER.size:
        return None
    (n,) = _HEADER.unpack_from(data)
    return data[_HEADER.size :] if len(data) == _HEADER.size + n else None


# ----------------------------------------------------------------------------- the job side


def _close_fds_except(keep: set[int]) -> None:
    for fd in map(int, os.listdir("/proc/self/fd")):
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def _job_main(job: dict, runner: Callable, fds: dict, uid: int, layers: list[str]) -> None:
    """The job process: isolate, run, report. Never returns."""
    from vsdpo.sandbox import errors
    from vsdpo.sandbox import limits as lim

    limits = lim.Limits(**job["limits"])
    my_pid = os.getpid()
    result_fd = fds["result_w"]
    try:
        devnull = os.open("/dev/null", os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(fds["out_w"], 1)
        os.dup2(fds["err_w"], 2)
        _close_fds_except({result_fd})
        workdir = fds["workdir"]
        os.chdir(workdir)
        signal.signal(signal.SIGINT, signal.default_int_handler)  # the worker ignores it
        for key in ("HOME", "TMPDIR", "MPLCONFIGDIR", "PWD"):
            os.environ[key] = workdir
        tempfile.tempdir = workdir
        layers = layers + lim.drop_privileges(uid, uid)
        # Inside a user namespace RLIMIT_NPROC also counts the worker, sandbox and init.
        lim.apply_rlimits(limits, extra_processes=3 if "user_ns" in layers else 0)
        layers.append("rlimits")
        if limits.audit:
            lim.install_audit_hook()
            layers.append("audit")
        code = job["code"]
        # Tracebacks then show the program's own source lines.
        linecache.cache[errors.USER_FILENAME] = (
            len(code),
            None,
            code.splitlines(True),
            errors.USER_FILENAME,
        )
    except BaseException as exc:  # noqa: BLE001 - report any set-up failure, never run unisolated
        msg = {
            "ok": False,
            "status": "crash",
            "type": "SandboxSetupError",
            "message": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(),
            "line": None,
            "layers": layers,
        }
        _send_result(result_fd, msg)
        os._exit(0)

    try:
        value = runner(code, job.get("args") or {})
        msg = {"ok": True, "value": value}
    except BaseException as exc:  # noqa: BLE001 - user code may raise anything
        if os.getpid() != my_pid:  # a fork of the program unwinding: it has no say
            os._exit(1)
        try:
            msg = {"ok": False, **errors.describe_exception(exc)}
        except BaseException:  # noqa: BLE001 - e.g. MemoryError while formatting
            msg = {
                "ok": False,
                "status": errors.status_for_exception(exc),
                "type": type(exc).__name__,
                "message": "",
                "traceback": "",
                "line": None,
            }
    if os.getpid() != my_pid:
        os._exit(0)
    msg["layers"] = layers
    _send_result(result_fd, msg)
    os._exit(0)


def _send_result(fd: int, msg: dict) -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001, S110 - a closed or broken stream loses its tail only
            pass
    try:
        data = pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL)
    except BaseException as exc:  # noqa: BLE001 - an unpicklable runner result
        data = pickle.dumps(
            {
                "ok": False,
                "status": "error",
                "type": "UnpicklableResult",
                "message": f"the runner returned a value that cannot be pickled: {exc}",
                "traceback": "",
                "line": None,
                "layers": msg.get("layers", []),
            }
        )
    try:
        _write_all(fd, _HEADER.pack(len(data)) + data)
    except OSError:
        pass


def _init_main(job: dict, runner: Callable, fds: dict, uid: int, layers: list[str]) -> None:
    """PID 1 of the job's namespace (or a plain middle process without one). Never returns."""
    from vsdpo.sandbox import limits as lim

    status_w = fds["status_w"]
    lim.prctl(lim.PR_SET_PDEATHSIG, signal.SIGKILL)  # die with the sandbox process
    if "pid_ns" in layers and lim.mount_private_proc():
        layers = layers + ["private_proc"]
    job_pid = os.fork()
    if job_pid == 0:
        try:
            os.close(status_w)
            _job_main(job, runner, fds, uid, layers)
        finally:
            os._exit(70)
    for key in ("result_w", "out_w", "err_w"):
        os.close(fds[key])
    job_status = None
    while True:  # reap orphans re-parented to us until the job itself ends
        try:
            pid, st = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        if pid == job_pid:
            job_status = st
            break
    os.write(status_w, json.dumps({"wait_status": job_status, "layers": layers}).encode())
    os._exit(0)  # as PID 1, our exit makes the kernel kill whatever the job left behind


def _sandbox_main(job: dict, runner: Callable, fds: dict, worker_layers: list[str]) -> None:
    """The job's sandbox process (setsid, namespaces, job tmpfs). Never returns."""
    from vsdpo.sandbox import limits as lim

    try:
        os.setsid()
        lim.prctl(lim.PR_SET_PDEATHSIG, signal.SIGKILL)  # die with the worker
        uid = lim.JOB_UID_BASE + os.getpid()
        limits = lim.Limits(**job["limits"])
        layers = list(worker_layers) + lim.enter_job_namespaces(
            worker_layers, uid, uid, limits.disk_mb
        )
        if "job_tmpfs" in layers:
            fds["workdir"] = lim.JOB_DIR
        elif os.geteuid() == 0:
            os.chown(fds["workdir"], uid, uid)
        init_pid = os.fork()
        if init_pid == 0:
            try:
                _init_main(job, runner, fds, uid, layers)
            finally:
                os._exit(70)
        for key in ("result_w", "out_w", "err_w", "status_w"):
            os.close(fds[key])
        os.waitpid(init_pid, 0)
    except BaseException:  # noqa: BLE001 - say why, the worker reports it as a crash
        try:
            os.write(fds["status_w"], json.dumps({"setup_error": traceback.format_exc()}).encode())
        finally:
            os._exit(71)
    os._exit(0)


# ----------------------------------------------------------------------------- the worker side


def run_job(job: dict, runner: Callable, worker_layers: list[str]) -> dict:
    """Fork the sandbox for one job, watch it, and return the reply for the pool."""
    from vsdpo.sandbox.limits import Limits

    limits = Limits(**job["limits"])
    pipes = {name: os.pipe() for name in ("result", "out", "err", "status")}
    _grow_pipe(pipes["result"][1])  # a rendered image is megabytes: fewer round trips
    fds = {f"{name}_w": w for name, (_, w) in pipes.items()}
    host_workdir = None
    if "mount_ns" not in worker_layers:
        host_workdir = tempfile.mkdtemp(prefix="vsdpo-job-")
    fds["workdir"] = host_workdir or ""
    sys.stdout.flush()
    sys.stderr.flush()
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            for r, _ in pipes.values():
                os.close(r)
            _sandbox_main(job, runner, fds, worker_layers)
        finally:
            os._exit(72)
    for w in fds.values():
        if isinstance(w, int):
            os.close(w)
    readers = {pipes[name][0]: name for name in pipes}
    data: dict[str, bytearray] = {name: bytearray() for name in pipes}
    caps = {
        "out": limits.max_output_bytes,
        "err": limits.max_output_bytes,
        "result": max(limits.memory_mb, 64) * 2**20,
        "status": 1 << 20,
    }
    deadline = t0 + limits.timeout_s
    kill_reason = None
    open_fds = set(readers)
    while open_fds:
        left = deadline - time.monotonic()
        if left <= 0:
            kill_reason = "timeout"
            break
        ready, _, _ = select.select(list(open_fds), [], [], left)
        for fd in ready:
            chunk = os.read(fd, 1 << 20)
            name = readers[fd]
            if not chunk:
                open_fds.discard(fd)
                continue
            buf = data[name]
            buf += chunk
            if len(buf) > caps[name]:
                del buf[caps[name] :]
                kill_reason = "output_limit" if name in ("out", "err") else "result_limit"
        if kill_reason:
            break
    if kill_reason:
        try:
            os.killpg(pid, signal.SIGKILL)  # the sandbox, init and (usually) the job
        except ProcessLookupError:
            pass
    for fd in readers:
        os.close(fd)
    _, sandbox_status = os.waitpid(pid, 0)
    # After a kill, the job's init may outlive the sandbox process: as a child subreaper we
    # inherit it, and its exit (as PID 1) waits until every process of the job is gone.
    _reap_all_children()
    wall = time.monotonic() - t0
    if host_workdir:
        shutil.rmtree(host_workdir, ignore_errors=True)
    status: dict = {}
    try:
        status = json.loads(bytes(data["status"]).decode() or "{}")
    except ValueError:
        pass
    return {
        "kill_reason": kill_reason,
        "result": split_frame(bytes(data["result"])) if not kill_reason else None,
        "stdout": bytes(data["out"]),
        "stderr": bytes(data["err"]),
        "wait_status": status.get("wait_status"),
        "setup_error": status.get("setup_error"),
        "layers": status.get("layers", worker_layers),
        "uid": _job_uid(pid) if "mount_ns" in worker_layers or os.geteuid() == 0 else None,
        "sandbox_pid": pid,
        "sandbox_status": sandbox_status,
        "job_wall_s": wall,
    }


def _grow_pipe(fd: int, size: int = 1 << 20) -> None:
    """Ask for a bigger pipe buffer (Linux F_SETPIPE_SZ); keep the default when refused."""
    try:
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), size)
    except OSError:
        pass


def _reap_all_children() -> None:
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def _job_uid(sandbox_pid: int) -> int:
    from vsdpo.sandbox.limits import JOB_UID_BASE

    return JOB_UID_BASE + sandbox_pid if os.geteuid() == 0 else os.getuid()


def _redirect_protocol_fds() -> tuple[int, int]:
    """Move the pool's pipes off fds 0/1, so stray prints from libraries cannot corrupt them."""
    proto_in, proto_out = os.dup(0), os.dup(1)
    devnull = os.open("/dev/null", os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    sys.stdout = os.fdopen(1, "w", closefd=False)
    return proto_in, proto_out


def load_runner(spec: str) -> Callable:
    """Import ``"package.module:function"``."""
    module_name, _, func_name = spec.partition(":")
    if not func_name:
        raise ValueError(f"runner must look like 'package.module:function', got {spec!r}")
    return getattr(importlib.import_module(module_name), func_name)


def main(argv: list[str] | None = None) -> int:
    """Worker entry point: ``python -m vsdpo.sandbox.worker '{"runner": ..., ...}'``."""
    argv = sys.argv[1:] if argv is None else argv
    config = json.loads(argv[0])
    proto_in, proto_out = _redirect_protocol_fds()
    try:
        for name in config.get("preload", []):
            importlib.import_module(name)
        runner = load_runner(config["runner"])
        from vsdpo.sandbox import limits as lim

        expose = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, *sys.path]
        expose += config.get("expose", [])
        layers = lim.prepare_worker_namespace(expose)
        PR_SET_CHILD_SUBREAPER = 36  # orphans of a killed job come back to us to be reaped
        lim.prctl(PR_SET_CHILD_SUBREAPER, 1)
        _grow_pipe(proto_out)
        # Every job is a fork of this process. A garbage collection in the job walks every
        # tracked object and writes to its header, i.e. copies (on write) every page of the
        # preloaded heap; frozen objects are never walked, so a job's collections only see
        # the objects the job made.
        gc.collect()
        gc.freeze()
    except BaseException as exc:  # noqa: BLE001 - tell the pool why we cannot serve
        write_frame(
            proto_out,
            {
                "ready": False,
                "error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(),
            },
        )
        return 1
    write_frame(proto_out, {"ready": True, "pid": os.getpid(), "layers": layers})
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the pool stops us by closing stdin
    while True:
        raw = read_frame_bytes(proto_in)
        if raw is None:
            return 0
        job = pickle.loads(raw)  # from the pool, which is trusted
        try:
            reply = run_job(job, runner, layers)
        except BaseException as exc:  # noqa: BLE001 - report, stay alive for the next job
            reply = {
                "kill_reason": None,
                "result": None,
                "stdout": b"",
                "stderr": b"",
                "wait_status": None,
                "layers": layers,
                "job_wall_s": 0.0,
                "setup_error": f"worker failed to run the job: {exc!r}\n" + traceback.format_exc(),
            }
        write_frame(proto_out, reply)


if __name__ == "__main__":
    sys.exit(main())
