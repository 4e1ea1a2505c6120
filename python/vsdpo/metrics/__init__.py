"""Benchmark-style scores of rendered artifacts (see ../shared/docs/metrics.md).

:mod:`vsdpo.metrics.aeslides`: the AeSlides aesthetic rewards (aspect ratio, whitespace, visual
balance, GDPO combination), ported to python-pptx decks.
"""
