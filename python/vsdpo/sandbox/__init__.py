"""Running untrusted programs: warm, isolated, limited, and never raising for what they do.

>>> with SandboxPool("mypkg.runner:run", preload=["matplotlib.pyplot"]) as pool:  # doctest: +SKIP
...     result = pool.run("print('hi')")
...     result.status, result.stdout
('ok', 'hi\\n')

See :mod:`vsdpo.sandbox.limits` for the isolation layers and :mod:`vsdpo.sandbox.worker` for
how each job runs.
"""

from vsdpo.sandbox.errors import USER_FILENAME
from vsdpo.sandbox.limits import Limits
from vsdpo.sandbox.pool import RestrictedUnpickler, SandboxPool, SandboxResult

__all__ = ["USER_FILENAME", "Limits", "RestrictedUnpickler", "SandboxPool", "SandboxResult"]
