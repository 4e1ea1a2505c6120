"""The persistent LibreOffice: .pptx bytes -> PDF bytes, one ``soffice`` kept running.

Starting LibreOffice costs seconds; converting a small deck in a running one costs about a tenth
of a second. :class:`OfficeService` starts one headless ``soffice`` (Debian's
``libreoffice-impress``) with its own user profile in a private temporary folder, listening on
a named pipe (``--accept=pipe,name=...;urp;``: no TCP port another user could reach), and a
small driver (:mod:`vsdpo.render.office_uno`) run by the system Python that has ``python3-uno``.
Each conversion is one JSON line to the driver and one back.

LibreOffice is not sandboxed like the untrusted programs (they only produce the .pptx; here
LibreOffice parses it), but it is contained: its own profile, documents opened hidden and
read-only with macros never executed and links never updated, and a deadline per deck. A hung
LibreOffice (past ``timeout_s``) or a crashed one (the driver's pipe closes, or the bridge is
disposed) is killed with its whole process group and started again; that deck gets an
:class:`OfficeError`, the caller carries on, and ``restarts`` counts it.

Thread-safe: conversions on one service run one at a time (LibreOffice is single-threaded
inside); :class:`OfficePool` holds several services for parallel conversions.
"""

from __future__ import annotations

import json
import os
import queue
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from functools import lru_cache
from pathlib import Path

#: Debian's LibreOffice launcher; override with $VSDPO_SOFFICE
DEFAULT_SOFFICE = "/usr/bin/soffice"
#: the Python that can ``import uno`` (Debian's python3-uno binds to the system Python);
#: override with $VSDPO_UNO_PYTHON
DEFAULT_UNO_PYTHON = "/usr/bin/python3"
DRIVER = Path(__file__).with_name("office_uno.py")
START_TIMEOUT_S = 90.0


class OfficeError(RuntimeError):
    """A deck LibreOffice could not convert (``kind``: "error", "timeout" or "crash")."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def find_soffice() -> str | None:
    """The LibreOffice launcher: ``$VSDPO_SOFFICE``, Debian's, or ``soffice`` on ``PATH``."""
    for candidate in (os.environ.get("VSDPO_SOFFICE"), DEFAULT_SOFFICE):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("soffice") or shutil.which("libreoffice")


@lru_cache(maxsize=4)
def _can_import_uno(python: str) -> bool:
    try:
        out = subprocess.run(
            [python, "-c", "import uno"], capture_output=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0


def find_uno_python() -> str | None:
    """A Python that can ``import uno``: ``$VSDPO_UNO_PYTHON`` or the system ``python3``."""
    for candidate in (os.environ.get("VSDPO_UNO_PYTHON"), DEFAULT_UNO_PYTHON):
        if candidate and os.path.isfile(candidate) and _can_import_uno(candidate):
            return candidate
    return None


def _kill_group(proc: subprocess.Popen | None) -> None:
    if proc is None:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


class OfficeService:
    """One persistent headless LibreOffice and its UNO driver. Use as a context manager."""

    def __init__(
        self,
        *,
        timeout_s: float = 60.0,
        executable: str | None = None,
        uno_python: str | None = None,
    ) -> None:
        self.executable = executable or find_soffice()
        if self.executable is None:
            raise RuntimeError("no LibreOffice found: install Debian's libreoffice-impress")
        self.uno_python = uno_python or find_uno_python()
        if self.uno_python is None:
            raise RuntimeError(
                "no Python with the UNO bindings found: install Debian's python3-uno "
                "(or set $VSDPO_UNO_PYTHON)"
            )
        self.timeout_s = float(timeout_s)
        self.restarts = 0  # (re)starts after the first one
        self.converted = 0
        self._lock = threading.Lock()
        self._dir = Path(tempfile.mkdtemp(prefix="vsdpo-office-"))
        os.chmod(self._dir, 0o700)
        self._work = self._dir / "work"
        self._work.mkdir()
        self._soffice: subprocess.Popen | None = None
        self._driver: subprocess.Popen | None = None
        self._closed = False
        self.startup_s = 0.0
        self._start()

    # -- lifecycle ------------------------------------------------------------------------------

    def _start(self) -> None:
        t0 = time.perf_counter()
        pipe = f"vsdpo-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        profile = self._dir / "profile"  # kept across restarts: a warm profile starts faster
        self._soffice = subprocess.Popen(
            [
                self.executable,
                "--headless",
                "--invisible",
                "--norestore",
                "--nologo",
                "--nodefault",
                "--nolockcheck",
                "--nofirststartwizard",
                f"--accept=pipe,name={pipe};urp;",
                f"-env:UserInstallation={profile.as_uri()}",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._driver = subprocess.Popen(
            [self.uno_python, str(DRIVER), pipe, str(START_TIMEOUT_S)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            text=True,
            bufsize=1,
        )
        reply = self._read_reply(START_TIMEOUT_S + 5)
        if not reply or not reply.get("ready"):
            self._stop()
            why = (reply or {}).get("error", "no answer")
            raise RuntimeError(f"LibreOffice did not start: {why}")
        self.startup_s = time.perf_counter() - t0

    def _stop(self) -> None:
        if self._driver is not None:
            try:
                self._driver.stdin.close()
            except OSError:
                pass
        _kill_group(self._driver)
        _kill_group(self._soffice)
        self._driver = self._soffice = None

    def _restart(self) -> None:
        self._stop()
        self.restarts += 1
        self._start()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self._lock:
            self._stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> OfficeService:  # noqa: PYI034 - Self needs Python 3.11
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            self.close()

    @property
    def pid(self) -> int | None:
        """The process id of the running ``soffice`` launcher (for tests and monitoring)."""
        return self._soffice.pid if self._soffice is not None else None

    # -- conversion -----------------------------------------------------------------------------

    def _read_reply(self, timeout_s: float) -> dict | None:
        """One JSON line from the driver, or None on timeout / EOF."""
        out = self._driver.stdout if self._driver else None
        if out is None:
            return None
        ready, _, _ = select.select([out], [], [], max(0.0, timeout_s))
        if not ready:
            return None
        line = out.readline()
        if not line:
            return None
        try:
            return json.loads(line)
        except ValueError:
            return {"ok": False, "error": f"bad reply: {line[:200]!r}", "fatal": True}

    def convert(self, pptx: bytes, timeout_s: float | None = None) -> bytes:
        """The PDF of a deck (one page per slide, hidden slides included).

        Raises :class:`OfficeError` when LibreOffice fails on it, hangs (then it is restarted)
        or crashes (restarted too)."""
        if self._closed:
            raise RuntimeError("the OfficeService is closed")
        timeout_s = self.timeout_s if timeout_s is None else timeout_s
        with self._lock:
            name = uuid.uuid4().hex
            src, dst = self._work / f"{name}.pptx", self._work / f"{name}.pdf"
            src.write_bytes(pptx)
            try:
                if self._driver is None or self._driver.poll() is not None:
                    self._restart()
                try:
                    self._driver.stdin.write(json.dumps({"in": str(src), "out": str(dst)}) + "\n")
                    self._driver.stdin.flush()
                    reply = self._read_reply(timeout_s)
                except (OSError, ValueError):
                    reply = None
                if reply is None:
                    hung = self._driver is not None and self._driver.poll() is None
                    self._restart()
                    if hung:
                        raise OfficeError(
                            "timeout",
                            f"LibreOffice did not convert the deck within {timeout_s:g} s "
                            "(it was restarted)",
                        )
                    raise OfficeError("crash", "LibreOffice crashed on the deck (it was restarted)")
                if not reply.get("ok"):
                    if reply.get("fatal"):
                        self._restart()
                        raise OfficeError(
                            "crash",
                            f"LibreOffice failed on the deck and was restarted: {reply.get('error')}",
                        )
                    raise OfficeError("error", f"LibreOffice: {reply.get('error')}")
                if not dst.is_file():
                    raise OfficeError("error", "LibreOffice wrote no PDF")
                self.converted += 1
                return dst.read_bytes()
            finally:
                src.unlink(missing_ok=True)
                dst.unlink(missing_ok=True)


class OfficePool:
    """``instances`` :class:`OfficeService` s; :meth:`convert` uses whichever is free."""

    def __init__(self, instances: int = 1, **kwargs: object) -> None:
        self._idle: queue.Queue[OfficeService] = queue.Queue()
        self.services: list[OfficeService] = []
        try:
            for _ in range(max(1, int(instances))):
                s = OfficeService(**kwargs)  # type: ignore[arg-type]
                self.services.append(s)
                self._idle.put(s)
        except BaseException:
            self.close()
            raise

    @property
    def restarts(self) -> int:
        return sum(s.restarts for s in self.services)

    def convert(self, pptx: bytes, timeout_s: float | None = None) -> bytes:
        service = self._idle.get()
        try:
            return service.convert(pptx, timeout_s)
        finally:
            self._idle.put(service)

    def close(self) -> None:
        for s in self.services:
            s.close()

    def __enter__(self) -> OfficePool:  # noqa: PYI034
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
