"""A table of hostile or broken programs: each gets its exact outcome, and the host is untouched.

For every program: the caller does not raise; the result has the expected status and error
type; canary files in a test directory, in ``$HOME`` and in ``/tmp`` are unchanged and no file
the program named appears there; no process of the job's uid survives; and the same pool then
runs a normal program correctly.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from vsdpo.code import extract_code
from vsdpo.sandbox import Limits, SandboxPool

from . import hostile_runner

RUNNER = f"{hostile_runner.__name__}:run"
LIMITS = Limits(timeout_s=3.0, cpu_s=10.0, memory_mb=2048, max_output_bytes=100_000)
HOME = os.path.expanduser("~")
TAG = f"vsdpo_hostile_{uuid.uuid4().hex[:8]}"  # every file a program tries to create carries it

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the sandbox is Linux-only")


@dataclass
class Case:
    name: str
    code: str
    status: str
    error_type: str | None = None
    line: int | None = None
    check: object = None  # callable(result) -> None, extra assertions
    limits: Limits | None = None
    completion: bool = False  # the text is a model completion: run extract_code first
    audit: bool = True  # False: the pool without the audit hook (OS layers only)
    params: dict = field(default_factory=dict)


def _compile_error_type(code: str) -> str:
    try:
        compile(code, "<x>", "exec")
    except BaseException as exc:  # noqa: BLE001
        return type(exc).__name__
    raise AssertionError("expected the code not to compile")


def _stderr_mentions(text: str):
    def check(r):
        assert text in r.stderr

    return check


def _value_is(expected):
    def check(r):
        assert r.value == {"finished": True, "result": expected}

    return check


UNICODE_GARBAGE = "\x00\ud800\u202e\ufffd \u2603 \U0001d518\U0001d52b"
PROSE = "You could plot the monthly sales as a bar chart, then label both axes and add a title."
TWO_BLOCKS = (
    "A first try:\n```python\nresult = 'short'\n```\n"
    "The full program:\n```python\nimport math\nx = math.pi\nresult = 'long'\n```\nDone."
)

CASES = [
    Case("infinite_loop", "while True:\n    pass", "timeout", "Timeout"),
    Case(
        "busy_loop_in_c",
        "import numpy as np\na = np.ones((6000, 6000))\nresult = float((a @ a).sum())",
        "timeout",
        "Timeout",
    ),
    Case("fork_bomb", "import os\nwhile True:\n    os.fork()", "error", "BlockingIOError", 3),
    Case("alloc_100gb", "b = bytearray(100 * 2**30)", "memory", "MemoryError", 1),
    Case(
        "alloc_100gb_numpy",
        "import numpy as np\na = np.zeros(100 * 2**30 // 8)",
        "memory",
        "MemoryError",
        2,
    ),  # numpy displays its subclass as MemoryError
    Case("deep_recursion", "def f(n):\n    return f(n + 1)\nf(0)", "error", "RecursionError", 2),
    Case(
        "c_stack_overflow",
        "import sys\nsys.setrecursionlimit(10**8)\nx = []\nfor _ in range(3 * 10**5):\n    x = [x]\nrepr(x)",
        "crash",
        "Crash",
        check=lambda r: "SIGSEGV" in r.error.message,
        limits=Limits(timeout_s=20.0, cpu_s=20.0, memory_mb=2048),
    ),
    Case(
        "segfault_ctypes",
        "import ctypes\nctypes.string_at(0)",
        "crash",
        "Crash",
        check=lambda r: "SIGSEGV" in r.error.message,
    ),
    Case(
        "abort",
        "import os\nos.abort()",
        "crash",
        "Crash",
        check=lambda r: "SIGABRT" in r.error.message,
    ),
    Case(
        "os_exit",
        "import os\nos._exit(0)",
        "exit",
        "Exit",
        check=lambda r: "before finishing" in r.error.message,
    ),
    Case(
        "sys_exit",
        "import sys\nsys.exit(3)",
        "error",
        "SystemExit",
        2,
        check=lambda r: "sys.exit(3)" in r.error.message,
    ),
    Case("keyboard_interrupt", "x = 1\nraise KeyboardInterrupt", "error", "KeyboardInterrupt", 2),
    Case(
        "gigabyte_of_stdout",
        "chunk = 'x' * 1023\nfor _ in range(2**20):\n    print(chunk)",
        "output_limit",
        "OutputLimit",
        check=lambda r: (
            len(r.stdout.encode()) <= LIMITS.max_output_bytes and r.stdout.startswith("x")
        ),
    ),
    Case(
        "write_real_home",
        f"open({HOME!r} + '/{TAG}_home', 'w').write('x')",
        "error",
        "OSError",
        1,
        check=lambda r: "Read-only file system" in r.error.message,
    ),
    Case(
        "write_tilde_home_is_the_job_dir",
        f"import os\np = os.path.expanduser('~/{TAG}_tilde')\nopen(p, 'w').write('x')\n"
        "result = os.path.dirname(p) == os.getcwd()",
        "ok",
        check=_value_is(True),
    ),
    Case("write_tmp", f"open('/tmp/{TAG}_tmp', 'w').write('x')", "error", "OSError", 1),
    Case(
        "write_cwd_is_allowed",
        "open('out.txt', 'w').write('fine')\nresult = open('out.txt').read()",
        "ok",
        check=_value_is("fine"),
    ),
    Case(
        "overwrite_world_writable_canary",
        "open(ARGS['canary'] + '/keep.txt', 'w').write('pwned')",
        "error",
        "OSError",
        1,
        check=lambda r: "Read-only file system" in r.error.message,
    ),
    Case(
        "rmtree_canary_from_python",
        "import shutil\nshutil.rmtree(ARGS['canary'])",
        "error",
        "OSError",
        2,
    ),
    Case("write_var_tmp", f"open('/var/tmp/{TAG}_vartmp', 'w').write('x')", "error", "OSError", 1),
    Case(
        "rm_rf_canary_audited",
        "import os\nos.system('rm -rf ' + ARGS['canary'])",
        "error",
        "PermissionError",
        2,
    ),
    Case(
        "rm_rf_canary_os_layers",
        "import os\nresult = os.system('rm -rf ' + ARGS['canary'])",
        "ok",
        check=lambda r: r.value["result"] != 0 and "Read-only file system" in r.stderr,
        audit=False,
    ),
    Case(
        "read_etc_passwd",
        "result = open('/etc/passwd').read()",
        "ok",
        check=lambda r: "root:" in r.value["result"],
    ),
    Case(
        "open_socket_audited",
        "import socket\nsocket.create_connection(('1.1.1.1', 80), timeout=2)",
        "error",
        "PermissionError",
        2,
    ),
    Case(
        "open_socket_os_layers",
        "import socket\ns = socket.socket()\ns.settimeout(2)\ns.connect(('1.1.1.1', 80))",
        "error",
        "OSError",
        4,
        check=lambda r: "unreachable" in r.error.message,
        audit=False,
    ),
    Case(
        "subprocess_audited",
        "import subprocess\nsubprocess.run(['true'])",
        "error",
        "PermissionError",
        2,
    ),
    Case(
        "subprocess_outlives_parent",
        "import subprocess\nsubprocess.Popen(['sleep', '4242'], start_new_session=True)\nresult = 'left'",
        "ok",
        check=_value_is("left"),
        audit=False,
    ),
    Case(
        "forked_daemon_outlives_parent",
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(1000)\nresult = 'left'",
        "ok",
        check=_value_is("left"),
    ),
    Case(
        "kill_the_sandbox_init",
        "import os, signal\nos.kill(1, signal.SIGKILL)",
        "error",
        "PermissionError",
        2,
    ),
    Case(
        "signal_handlers_changed",
        "import signal\nfor s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGXCPU):\n"
        "    signal.signal(s, signal.SIG_IGN)\nwhile True:\n    pass",
        "timeout",
        "Timeout",
    ),
    Case(
        "cpu_time_limit",
        "while True:\n    pass",
        "timeout",
        "CPUTimeLimit",
        limits=Limits(timeout_s=10.0, cpu_s=1.0, memory_mb=2048),
    ),
    Case(
        "fill_the_disk",
        "with open('big', 'wb') as f:\n    f.write(b'x' * (64 * 2**20))",
        "error",
        "OSError",
        2,
        limits=Limits(timeout_s=5.0, memory_mb=2048, disk_mb=16),
    ),
    Case(
        "plt_show_returns",
        "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()\nresult = 'shown'",
        "ok",
        check=_value_is("shown"),
    ),
    Case(
        "interactive_backend",
        "import matplotlib\nmatplotlib.use('TkAgg')",
        "error",
        "ImportError",
        2,
    ),
    Case("input_reads_nothing", "name = input('name? ')", "error", "EOFError", 1),
    Case("syntax_error", "x = 1\ndef f(:\n    pass", "error", "SyntaxError", 2),
    Case(
        "import_error",
        "import numpy\nimport no_such_module_vsdpo",
        "error",
        "ModuleNotFoundError",
        2,
    ),
    Case("unicode_garbage", UNICODE_GARBAGE, "error", _compile_error_type(UNICODE_GARBAGE)),
    Case("unencodable_print", "print('\\udc80')", "error", "UnicodeEncodeError", 1),
    Case("empty_string", "", "ok", check=_value_is(None)),
    Case("prose_without_code", PROSE, "error", "SyntaxError", 1, completion=True),
    Case("two_code_blocks", TWO_BLOCKS, "ok", check=_value_is("long"), completion=True),
    Case(
        "forged_result_pickle",
        "import os, pickle, struct\n"
        "class Evil:\n"
        "    def __reduce__(self):\n"
        f"        return (os.system, ('touch /tmp/{TAG}_pwned',))\n"
        "data = pickle.dumps(Evil())\n"
        "fd = max(int(x) for x in os.listdir('/proc/self/fd') if int(x) > 2)\n"
        "os.write(fd, struct.pack('>Q', len(data)) + data)\n"
        "os._exit(0)",
        "error",
        "SandboxResultError",
    ),
    Case("unpicklable_result", "result = lambda: 0", "error", "UnpicklableResult"),
]


@pytest.fixture(scope="module")
def pools():
    with SandboxPool(
        RUNNER, workers=1, limits=LIMITS, preload=["numpy", "matplotlib.pyplot"]
    ) as audited:
        with SandboxPool(
            RUNNER,
            workers=1,
            limits=Limits(**{**LIMITS.to_dict(), "audit": False}),
            preload=["numpy"],
        ) as os_only:
            yield {True: audited, False: os_only}


def _tree_digest(path: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(path.rglob("*")):
        h.update(str(p.relative_to(path)).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


def _processes_of_uid(uid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                status = Path(f"/proc/{entry}/status").read_text()
            except OSError:
                continue
            uids = next(line for line in status.splitlines() if line.startswith("Uid:"))
            if int(uids.split()[1]) == uid:
                found.append(int(entry))
    return found


def _tagged_files() -> list[str]:
    """Files a program named with TAG in $HOME, /tmp or /var/tmp (the canary itself excepted)."""
    dirs = (Path(HOME), Path("/tmp"), Path("/var/tmp"))
    return [
        str(p) for d in dirs for p in d.glob(f"{TAG}*") if not p.name.startswith(f"{TAG}_canary_")
    ]


@pytest.fixture
def canary() -> Path:
    """A world-writable directory the sandbox can see (unlike the host's /tmp, which it cannot):
    only the read-only mounts protect it."""
    path = Path(tempfile.mkdtemp(prefix=f"{TAG}_canary_", dir="/var/tmp"))
    (path / "sub").mkdir()
    (path / "keep.txt").write_text("precious")
    (path / "sub" / "data.bin").write_bytes(os.urandom(256))
    for p in [path, *path.rglob("*")]:
        p.chmod(0o777 if p.is_dir() else 0o666)
    yield path
    shutil.rmtree(path)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_program(case: Case, pools, canary: Path) -> None:
    home_canary = Path(HOME) / f".{TAG}_canary"
    home_canary.write_text("home canary")
    before = _tree_digest(canary)
    try:
        code = case.code
        if case.completion:
            code = extract_code(case.code, "chart").code
        pool = pools[case.audit]
        result = pool.run(code, {"canary": str(canary), **case.params}, limits=case.limits)

        assert result.status == case.status, (result.status, result.error)
        assert result.ok == (case.status == "ok")
        if case.error_type is None:
            assert result.error is None
        else:
            assert result.error is not None and result.error.type == case.error_type, result.error
            assert result.error.message  # a clear, non-empty message
        if case.line is not None:
            assert result.error.line == case.line, result.error
        if case.check is not None:
            assert case.check(result) is not False, result  # lambdas return a bool

        # The host is untouched.
        assert _tree_digest(canary) == before
        assert home_canary.read_text() == "home canary"
        assert _tagged_files() == []
        assert result.uid is not None and result.uid != 0
        assert _processes_of_uid(result.uid) == []
        # ...and the pool still works.
        again = pool.run("result = sum(range(10))")
        assert again.status == "ok" and again.value == {"finished": True, "result": 45}
    finally:
        home_canary.unlink()
