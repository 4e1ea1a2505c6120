"""The UNO side of the persistent LibreOffice (:mod:`vsdpo.render.office`): a tiny driver.

This file runs as a *script* under the system Python that has Debian's ``python3-uno`` (the
project's virtual environment cannot import ``uno``), so it imports nothing from vsdpo. It
connects to one running ``soffice --accept=pipe,name=NAME;urp;`` and then serves requests, one
JSON object per line on stdin, one reply per line on stdout:

    {"in": "/path/deck.pptx", "out": "/path/deck.pdf"}
    -> {"ok": true, "load_s": 0.09, "export_s": 0.04}
    -> {"ok": false, "error": "...", "fatal": false}

``fatal`` means the connection to LibreOffice is gone (it crashed): the service restarts both
processes. Documents are opened hidden and read-only, with macros never executed and links
never updated, and exported with hidden slides included so that PDF page i is slide i.

    /usr/bin/python3 office_uno.py PIPE_NAME [CONNECT_TIMEOUT_S]
"""

import json
import sys
import time


def _props(uno, pairs):
    from com.sun.star.beans import PropertyValue

    out = []
    for name, value in pairs:
        p = PropertyValue()
        p.Name = name
        p.Value = value
        out.append(p)
    return tuple(out)


def _connect(uno, pipe, timeout_s):
    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext(
        "com.sun.star.bridge.UnoUrlResolver", local
    )
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            ctx = resolver.resolve(f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext")
            return ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
        except Exception:  # NoConnectException until soffice listens
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    import uno

    pipe = sys.argv[1]
    timeout_s = float(sys.argv[2]) if len(sys.argv) > 2 else 60.0
    try:
        desktop = _connect(uno, pipe, timeout_s)
    except Exception as exc:
        _reply({"ready": False, "error": f"{type(exc).__name__}: {exc}"})
        return 1
    _reply({"ready": True})
    load_props = _props(
        uno,
        [
            ("Hidden", True),
            ("ReadOnly", True),
            ("MacroExecutionMode", 0),  # NEVER_EXECUTE
            ("UpdateDocMode", 0),  # NO_UPDATE: linked content is not fetched
            ("FilterName", "Impress MS PowerPoint 2007 XML"),
        ],
    )
    filter_data = uno.Any(
        "[]com.sun.star.beans.PropertyValue",
        _props(uno, [("ExportHiddenSlides", True), ("ExportNotesPages", False)]),
    )
    store_props = _props(uno, [("FilterName", "impress_pdf_Export"), ("FilterData", filter_data)])
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            req = json.loads(line)
        except ValueError:
            _reply({"ok": False, "error": "bad request", "fatal": False})
            continue
        doc = None
        t0 = time.perf_counter()
        try:
            doc = desktop.loadComponentFromURL(
                uno.systemPathToFileUrl(req["in"]), "_blank", 0, load_props
            )
            if doc is None:
                _reply(
                    {"ok": False, "error": "LibreOffice could not open the deck", "fatal": False}
                )
                continue
            t1 = time.perf_counter()
            doc.storeToURL(uno.systemPathToFileUrl(req["out"]), store_props)
            _reply({"ok": True, "load_s": t1 - t0, "export_s": time.perf_counter() - t1})
        except Exception as exc:
            name = type(exc).__name__
            fatal = name in ("DisposedException", "RuntimeException") or "Binary URP bridge" in str(
                exc
            )
            _reply({"ok": False, "error": f"{name}: {exc}", "fatal": fatal})
            if fatal:
                return 2
        finally:
            if doc is not None:
                try:
                    doc.close(True)
                except Exception:
                    pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
