"""Visual defects of rendered artifacts, found over a whole rollout group at once.

>>> from vsdpo.defects import detect_defects, DefectConfig
>>> detect_defects([])
[]
"""

from vsdpo.defects.config import DefectConfig
from vsdpo.defects.engine import detect_defects

__all__ = ["DefectConfig", "detect_defects"]
