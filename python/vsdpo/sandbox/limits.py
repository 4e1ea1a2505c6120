"""Resource limits and OS isolation for sandboxed jobs.

The layers, from the outside in (each is probed; a layer the machine refuses is skipped and left
out of the result's ``layers``):

``mount_ns``       the worker (zygote) lives in a private mount namespace, set up once: host
                   ``/tmp`` is replaced by an empty tmpfs, directories the job user cannot enter
                   (``/root``) are replaced by a tmpfs exposing only the Python installation
                   inside them, and then *every* mount is made read-only.
``job_tmpfs``      each job gets a fresh, size-limited tmpfs as its cwd: the one writable place,
                   gone when the job ends.
``net_ns``         a new network namespace: only a down loopback, no route anywhere.
``pid_ns``         a new PID namespace whose init is a tiny reaper; when the job's main process
                   ends, the kernel kills everything it left behind (even ``setsid`` daemons).
``ipc_ns``/``uts_ns``  no shared SysV IPC, own hostname.
``uid``            as root: a per-job unprivileged uid (``JOB_UID_BASE + pid``), so RLIMIT_NPROC
                   counts only this job's processes and it cannot signal other jobs.
                   As non-root: a user namespace maps our own uid, and capabilities are dropped.
``no_new_privs``   setuid binaries cannot raise privileges.
``rlimits``        address space, CPU seconds, processes, open files, file size, no core dumps.
``audit``          a Python audit hook that refuses sockets and process spawning with a clear
                   message. A convenience only (ctypes can bypass it); the OS layers are the
                   guarantee.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import stat
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

# Linux constants (from <sched.h>, <sys/mount.h>, <linux/mount.h>, <sys/prctl.h>).
CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
AT_FDCWD = -100
AT_EMPTY_PATH = 0x1000
AT_RECURSIVE = 0x8000
OPEN_TREE_CLONE = 0x1
MOVE_MOUNT_F_EMPTY_PATH = 0x4
# open_tree, move_mount and mount_setattr have the same numbers on every architecture.
SYS_OPEN_TREE = 428
SYS_MOVE_MOUNT = 429
SYS_MOUNT_SETATTR = 442
PR_SET_PDEATHSIG = 1
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38

#: per-job uids (as root) are JOB_UID_BASE + the sandbox process's pid: unique while it runs
JOB_UID_BASE = 1_900_000_000
#: the job's working directory when the mount namespace is active
JOB_DIR = "/tmp/job"

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
_libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4


@dataclass
class Limits:
    """Limits for one sandboxed job (all enforced by the OS in the job process)."""

    timeout_s: float = 20.0  # wall clock; the whole process tree is killed at the deadline
    cpu_s: float = 30.0  # RLIMIT_CPU of each process
    memory_mb: int = 3072  # RLIMIT_AS (total address space, the preloaded modules included)
    max_processes: int = 32  # RLIMIT_NPROC for the job's uid (threads count too)
    max_open_files: int = 256  # RLIMIT_NOFILE
    max_output_bytes: int = 1_000_000  # per stream (stdout, stderr); the job is killed beyond
    disk_mb: int = 256  # size of the job's private tmpfs, and RLIMIT_FSIZE
    audit: bool = True  # refuse sockets / process spawning early, with a clear message

    def to_dict(self) -> dict:
        return asdict(self)


class IsolationError(OSError):
    """A required isolation step failed."""


def _check(ret: int, what: str) -> int:
    if ret < 0:
        err = ctypes.get_errno()
        raise IsolationError(err, f"{what}: {os.strerror(err)}")
    return ret


def unshare(flags: int) -> None:
    """libc unshare(2) (``os.unshare`` only exists from Python 3.12)."""
    _check(_libc.unshare(ctypes.c_int(flags)), f"unshare({flags:#x})")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    enc = lambda s: s.encode() if s is not None else None  # noqa: E731
    _check(_libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)), f"mount {target}")


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


def make_all_mounts_readonly() -> None:
    """mount_setattr(2) on ``/`` recursively: every mount read-only and nosuid."""
    attr = _MountAttr(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, 0, 0, 0)
    ret = _libc.syscall(
        ctypes.c_long(SYS_MOUNT_SETATTR),
        ctypes.c_int(AT_FDCWD),
        ctypes.c_char_p(b"/"),
        ctypes.c_uint(AT_RECURSIVE),
        ctypes.byref(attr),
        ctypes.c_size_t(ctypes.sizeof(attr)),
    )
    _check(ret, "mount_setattr(/, RDONLY)")


def _clone_tree(path: str) -> int:
    ret = _libc.syscall(
        ctypes.c_long(SYS_OPEN_TREE),
        ctypes.c_int(AT_FDCWD),
        ctypes.c_char_p(path.encode()),
        ctypes.c_uint(OPEN_TREE_CLONE | AT_RECURSIVE | os.O_CLOEXEC),
    )
    return _check(ret, f"open_tree({path})")


def _attach_tree(fd: int, path: str) -> None:
    ret = _libc.syscall(
        ctypes.c_long(SYS_MOVE_MOUNT),
        ctypes.c_int(fd),
        ctypes.c_char_p(b""),
        ctypes.c_int(AT_FDCWD),
        ctypes.c_char_p(path.encode()),
        ctypes.c_uint(MOVE_MOUNT_F_EMPTY_PATH),
    )
    _check(ret, f"move_mount({path})")


def prctl(option: int, arg: int = 0) -> None:
    _check(_libc.prctl(option, arg, 0, 0, 0), f"prctl({option})")


def blocked_ancestors(paths: Iterable[str]) -> dict[str, list[str]]:
    """For paths an unprivileged "other" user must reach: {top blocked dir: [paths under it]}.

    A directory is blocked when "other" lacks search (x) permission on it, e.g. ``/root``
    (mode 700) holding pyenv and the project venv. Paths nested in another listed path are
    dropped (exposing the outer one exposes them).
    """
    real = sorted({os.path.realpath(p) for p in paths if p and os.path.isdir(p)})
    outer = [p for p in real if not any(p != q and p.startswith(q.rstrip("/") + "/") for q in real)]
    found: dict[str, list[str]] = {}
    for p in outer:
        parts = p.strip("/").split("/")
        for depth in range(1, len(parts)):
            anc = "/" + "/".join(parts[:depth])
            if not os.stat(anc).st_mode & stat.S_IXOTH:
                found.setdefault(anc, []).append(p)
                break
    return found


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def prepare_worker_namespace(expose: Sequence[str]) -> list[str]:
    """Once per worker: a private mount namespace with a read-only view of the host.

    ``expose``: directories the job user must be able to read (the Python installation,
    sys.path). Returns the layers made active; an empty list when the machine refuses mount
    namespaces (the worker then falls back to host temp dirs and rlimits).
    """
    root = os.geteuid() == 0
    try:
        if root:
            unshare(CLONE_NEWNS)
        else:  # a user namespace mapping only our own uid gives the capabilities to mount
            uid, gid = os.getuid(), os.getgid()
            unshare(CLONE_NEWUSER | CLONE_NEWNS)
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"{uid} {uid} 1")
            _write("/proc/self/gid_map", f"{gid} {gid} 1")
    except (OSError, IsolationError):
        return []
    layers = ["mount_ns"] + ([] if root else ["user_ns"])
    mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing we mount leaks back to the host
    if root:
        # The job runs as an unprivileged uid: directories it cannot enter are replaced by a
        # tmpfs holding only the trees it needs (which also hides e.g. /root/.ssh).
        for blocked, inner in blocked_ancestors(expose).items():
            trees = [(p, _clone_tree(p)) for p in inner]
            mount("tmpfs", blocked, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m")
            for p, fd in trees:
                os.makedirs(p, mode=0o755, exist_ok=True)
                _attach_tree(fd, p)
                os.close(fd)
    # A private, empty /tmp: the job cannot see or touch the host's.
    mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m")
    os.mkdir(JOB_DIR, 0o755)
    make_all_mounts_readonly()
    return layers + ["private_tmp", "readonly_root"]


def enter_job_namespaces(
    worker_layers: Sequence[str], uid: int, gid: int, disk_mb: int
) -> list[str]:
    """In the job's sandbox process: new namespaces, and a fresh tmpfs as the job's cwd.

    Each namespace is tried on its own, so one that is refused does not cost the others.
    The PID namespace applies to this process's children (the job's init and the job).
    """
    layers = []
    for name, flag in (
        ("job_mount_ns", CLONE_NEWNS),
        ("net_ns", CLONE_NEWNET),
        ("pid_ns", CLONE_NEWPID),
        ("ipc_ns", CLONE_NEWIPC),
        ("uts_ns", CLONE_NEWUTS),
    ):
        if flag == CLONE_NEWNS and "mount_ns" not in worker_layers:
            continue
        try:
            unshare(flag)
            layers.append(name)
        except IsolationError:
            pass
    if "job_mount_ns" in layers:
        opts = f"size={disk_mb}m,nr_inodes=10000,mode=0700"
        if os.geteuid() == 0:
            opts += f",uid={uid},gid={gid}"
        mount("tmpfs", JOB_DIR, "tmpfs", MS_NOSUID | MS_NODEV, opts)
        layers.append("job_tmpfs")
    return layers


def mount_private_proc() -> bool:
    """In the job's PID-namespace init: a /proc that shows only the job's processes."""
    try:
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        return True
    except IsolationError:
        return False


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def drop_capabilities() -> None:
    """Empty the bounding, effective, permitted and inheritable capability sets."""
    for cap in range(64):
        if _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0:
            break  # EINVAL past the last capability the kernel knows
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), ctypes.byref(data)), "capset")


def drop_privileges(uid: int, gid: int) -> list[str]:
    """Become the job user and make sure nothing can raise privileges again."""
    layers = []
    changed = False
    if os.geteuid() == 0:
        try:
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)  # clears every capability (no keep-caps)
            layers.append("uid")
            changed = True
        except OSError:  # e.g. root inside a user namespace where this uid is not mapped
            pass
    if not changed:
        try:
            drop_capabilities()
            layers.append("no_caps")
        except IsolationError:
            pass
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    layers.append("no_new_privs")
    # After the uid change (which clears it): die with the job's init / sandbox process.
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    return layers


def apply_rlimits(limits: Limits, extra_processes: int = 0) -> None:
    """Lower the job's rlimits (only lowering is possible without CAP_SYS_RESOURCE)."""

    def lower(res: int, value: int, hard: int | None = None) -> None:
        _, old_hard = resource.getrlimit(res)
        hard = value if hard is None else hard
        if old_hard != resource.RLIM_INFINITY:
            value, hard = min(value, old_hard), min(hard, old_hard)
        resource.setrlimit(res, (value, hard))

    cpu = max(1, int(limits.cpu_s + 0.999))
    lower(resource.RLIMIT_CPU, cpu, cpu + 1)  # SIGXCPU at the soft limit, SIGKILL one second on
    lower(resource.RLIMIT_AS, limits.memory_mb * 2**20)
    lower(resource.RLIMIT_NPROC, limits.max_processes + extra_processes)
    lower(resource.RLIMIT_NOFILE, limits.max_open_files)
    lower(resource.RLIMIT_FSIZE, limits.disk_mb * 2**20)
    lower(resource.RLIMIT_CORE, 0)


# Audit events that mean "reach outside the sandbox". Refused with PermissionError.
_REFUSED_EVENTS = {
    "socket.connect": "network access",
    "socket.bind": "network access",
    "socket.sendto": "network access",
    "socket.getaddrinfo": "network access",
    "subprocess.Popen": "starting processes",
    "os.system": "starting processes",
    "os.exec": "starting processes",
    "os.posix_spawn": "starting processes",
    "os.spawn": "starting processes",
    "pty.spawn": "starting processes",
}


def install_audit_hook() -> None:
    """Refuse network and process-spawning calls from Python code with a clear message."""

    def hook(event: str, args: tuple) -> None:
        what = _REFUSED_EVENTS.get(event)
        if what is not None:
            raise PermissionError(f"{what} is not allowed in the sandbox ({event})")

    sys.addaudithook(hook)
