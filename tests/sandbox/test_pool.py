"""SandboxPool behaviour: isolation layers, fresh state per job, concurrency, worker replacement,
safe result decoding, error formatting, and the per-job overhead."""

from __future__ import annotations

import os
import pickle
import signal
import statistics
import sys
import threading
import time

import numpy as np
import pytest

from vsdpo.artifact import Element, ExecError
from vsdpo.sandbox import Limits, RestrictedUnpickler, SandboxPool, errors
from vsdpo.sandbox import pool as pool_module

from . import hostile_runner

RUNNER = f"{hostile_runner.__name__}:run"
LIMITS = Limits(timeout_s=5.0, cpu_s=10.0, memory_mb=2048)

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the sandbox is Linux-only")

#: every layer must be active on the project's machines (root in a container, kernel >= 5.12)
ALL_LAYERS = {
    "mount_ns",
    "private_tmp",
    "readonly_root",
    "job_mount_ns",
    "net_ns",
    "pid_ns",
    "ipc_ns",
    "uts_ns",
    "job_tmpfs",
    "private_proc",
    "uid",
    "no_new_privs",
    "rlimits",
    "audit",
}


@pytest.fixture(scope="module")
def pool():
    with SandboxPool(RUNNER, workers=2, limits=LIMITS, preload=["numpy", "matplotlib.pyplot"]) as p:
        yield p


def test_runs_code_and_captures_output(pool: SandboxPool) -> None:
    r = pool.run(
        "import sys\nprint('to out')\nprint('to err', file=sys.stderr)\nresult = ARGS['n'] * 2",
        {"n": 21},
    )
    assert r.ok and r.status == "ok" and r.error is None
    assert r.value == {"finished": True, "result": 42}
    assert r.stdout == "to out\n" and r.stderr == "to err\n"
    assert 0 < r.job_wall_s <= r.wall_s


@pytest.mark.skipif(os.geteuid() != 0, reason="the full set of layers needs root (as in CI)")
def test_every_isolation_layer_is_active(pool: SandboxPool) -> None:
    r = pool.run(
        "import os, resource\n"
        "result = dict(uid=os.getuid(), cwd=os.getcwd(), files=os.listdir('.'), tmp=os.listdir('/tmp'),\n"
        "    pids=sorted(int(p) for p in os.listdir('/proc') if p.isdigit()),\n"
        "    nproc=resource.getrlimit(resource.RLIMIT_NPROC)[0], as_=resource.getrlimit(resource.RLIMIT_AS)[0],\n"
        "    nofile=resource.getrlimit(resource.RLIMIT_NOFILE)[0], net=os.listdir('/sys/class/net'))"
    )
    assert r.ok, r.error
    assert set(r.layers) == ALL_LAYERS
    v = r.value["result"]
    assert v["uid"] == r.uid and v["uid"] >= 1_000_000  # a per-job unprivileged uid
    assert v["cwd"] == "/tmp/job" and v["files"] == [] and v["tmp"] == ["job"]
    assert v["pids"] == [1, 2]  # the job sees only its init and itself
    assert (v["nproc"], v["as_"], v["nofile"]) == (32, 2048 * 2**20, 256)


def test_each_job_starts_from_a_clean_warm_process(pool: SandboxPool) -> None:
    dirty = (
        "import builtins, matplotlib, matplotlib.pyplot as plt, numpy\n"
        "builtins.LEFTOVER = 1\nmatplotlib.rcParams['lines.linewidth'] = 9\nplt.figure()\n"
        "numpy.sum = None\nopen('left.txt', 'w').write('x')\nresult = plt.get_fignums()"
    )
    probe = (
        "import builtins, os, matplotlib, matplotlib.pyplot as plt, numpy\n"
        "result = (hasattr(builtins, 'LEFTOVER'), matplotlib.rcParams['lines.linewidth'],\n"
        "          plt.get_fignums(), numpy.sum is None, os.listdir('.'))"
    )
    for _ in range(2):  # with 2 workers, each one ran a dirty job before some probe
        assert pool.run(dirty).value["result"] == [1]
    for _ in range(2):
        assert pool.run(probe).value["result"] == (False, 1.5, [], False, [])


def test_map_keeps_order_and_a_timeout_does_not_delay_the_others(pool: SandboxPool) -> None:
    limits = Limits(timeout_s=2.0, cpu_s=10.0, memory_mb=2048)
    codes = ["while True:\n    pass"] + [f"result = {i}" for i in range(1, 6)]
    t0 = time.monotonic()
    results = pool.map(codes, limits=limits)
    elapsed = time.monotonic() - t0
    assert [r.status for r in results] == ["timeout"] + ["ok"] * 5
    assert [r.value["result"] for r in results[1:]] == [1, 2, 3, 4, 5]
    assert all(r.wall_s < 1.0 for r in results[1:]), [r.wall_s for r in results]
    assert elapsed < limits.timeout_s + 1.5


def test_map_rejects_mismatched_args(pool: SandboxPool) -> None:
    with pytest.raises(ValueError, match="2 codes but 1 args"):
        pool.map(["1", "2"], [{}])


def test_a_dead_worker_is_replaced_and_the_job_gets_a_clear_error() -> None:
    with SandboxPool(RUNNER, workers=1, limits=LIMITS) as p:
        assert p.run("result = 1").ok
        worker_pid = next(iter(p._all)).proc.pid
        killer = threading.Timer(0.5, os.kill, (worker_pid, signal.SIGKILL))
        killer.start()
        r = p.run("import time\ntime.sleep(30)")
        killer.join()
        assert r.status == "crash" and r.error.type == "SandboxWorkerDied"
        assert p.replaced == 1
        assert p.run("result = 7").value == {"finished": True, "result": 7}


def test_a_hung_worker_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool_module, "_REPLY_GRACE_S", 0.5)
    limits = Limits(timeout_s=1.0, cpu_s=10.0, memory_mb=2048)
    with SandboxPool(RUNNER, workers=1, limits=limits) as p:
        worker_pid = next(iter(p._all)).proc.pid
        p.run("result = 1")
        os.kill(worker_pid, signal.SIGSTOP)  # the worker stops answering
        try:
            r = p.run("result = 2")
        finally:
            try:
                os.kill(worker_pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        assert r.status == "timeout" and r.error.type == "SandboxWorkerHung"
        assert p.replaced == 1
        assert p.run("result = 3").value["result"] == 3


def test_a_bad_runner_fails_at_construction() -> None:
    with pytest.raises(RuntimeError, match="No module named"):
        SandboxPool("no_such_module_vsdpo:run", workers=1)


def test_per_call_limits_override_the_pool_default(pool: SandboxPool) -> None:
    r = pool.run("print('x' * 5000)", limits=Limits(max_output_bytes=1000, memory_mb=2048))
    assert r.status == "output_limit" and len(r.stdout) == 1000
    assert pool.run("print('x' * 5000)").status == "ok"


def test_runner_may_return_arrays_and_artifact_types(pool: SandboxPool) -> None:
    r = pool.run(
        "import numpy as np\nfrom vsdpo.artifact import Element\n"
        "result = (np.arange(6, dtype=np.float32).reshape(2, 3), np.int64(5),\n"
        "          Element(1, 'title', (0.0, 0.0, 10.0, 5.0), text='T', source=[(3, 3)]))"
    )
    assert r.ok, r.error
    arr, scalar, element = r.value["result"]
    np.testing.assert_array_equal(arr, np.arange(6, dtype=np.float32).reshape(2, 3))
    assert scalar == 5 and isinstance(element, Element) and element.source == [(3, 3)]


def test_restricted_unpickler_refuses_code_execution_gadgets() -> None:
    class Evil:
        def __reduce__(self):
            return (os.system, ("true",))

    with pytest.raises(pickle.UnpicklingError, match="may not contain"):
        RestrictedUnpickler(pickle.dumps(Evil())).load()
    with pytest.raises(pickle.UnpicklingError):
        RestrictedUnpickler(pickle.dumps({"f": getattr})).load()
    ok = {"a": np.zeros((2, 2), np.uint8), "e": ExecError("T", "m", line=3), "s": {1, 2}}
    back = RestrictedUnpickler(pickle.dumps(ok, protocol=5)).load()
    assert back["e"] == ok["e"] and back["s"] == {1, 2} and back["a"].dtype == np.uint8


def test_describe_exception_trims_to_user_frames_and_names_the_line() -> None:
    code = "def f(n):\n    return f(n + 1)\nf(0)\n"
    try:
        exec(compile(code, errors.USER_FILENAME, "exec"), {})
    except RecursionError as exc:
        d = errors.describe_exception(exc)
    assert d["status"] == "error" and d["type"] == "RecursionError" and d["line"] == 2
    assert "more frames" in d["traceback"] and len(d["traceback"]) < 8000
    assert __file__ not in d["traceback"]  # the caller's frames are trimmed away

    try:
        compile("x = (\n", errors.USER_FILENAME, "exec")
    except SyntaxError as exc:
        d = errors.describe_exception(exc)
    assert d["type"] == "SyntaxError" and d["line"] == 1 and "Traceback" not in d["traceback"]


def test_describe_termination_names_signals_and_exit_codes() -> None:
    segv = signal.SIGSEGV  # a wait status for "killed by signal s" is s itself
    status, err = errors.describe_termination(segv, None, LIMITS)
    assert status == "crash" and "SIGSEGV" in err.message
    status, err = errors.describe_termination(signal.SIGXCPU, None, LIMITS)
    assert status == "timeout" and err.type == "CPUTimeLimit"
    status, err = errors.describe_termination(3 << 8, None, LIMITS)
    assert status == "exit" and "code 3" in err.message
    assert errors.describe_termination(None, "timeout", LIMITS)[0] == "timeout"
    assert errors.describe_termination(None, None, LIMITS)[0] == "crash"


def test_trivial_job_round_trip_is_tens_of_milliseconds(pool: SandboxPool) -> None:
    for _ in range(3):  # warm up
        pool.run("result = 1")
    walls = [pool.run("import matplotlib.pyplot as plt\nresult = 1").wall_s for _ in range(20)]
    median = statistics.median(walls)
    print(
        f"\nsandbox round trip, trivial job, matplotlib preloaded: median {median * 1000:.1f} ms, "
        f"max {max(walls) * 1000:.1f} ms"
    )
    assert median < 0.25  # a few tens of ms in practice; generous for a loaded 2-core machine
