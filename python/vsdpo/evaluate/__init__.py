"""Evaluating the defect detector on real charts: planted defects, recall and blame.

:mod:`vsdpo.evaluate.planting` plants known defects into working scripts;
:mod:`vsdpo.evaluate.detector` renders clean and planted copies and reports how well the defect
engine finds and blames them (``vsdpo eval-detector charts DIR``).
"""

from vsdpo.evaluate.planting import PLANTERS, PlantedScript, Planter, plant

__all__ = ["PLANTERS", "PlantedScript", "Planter", "plant"]
