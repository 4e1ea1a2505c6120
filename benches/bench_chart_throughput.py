"""Chart rendering throughput: warm traced workers + defect detection vs a fresh python per chart.

    python benches/bench_chart_throughput.py [DIR] [--limit N] [--workers 2] [--modes naive,warm,exec] [--quick]

The same as ``vsdpo bench render``; DIR defaults to ../shared/data/chartmimic_dev (the 120
ChartMimic dev scripts). See vsdpo/bench/render_throughput.py for what each mode measures.
"""

import sys

from vsdpo.bench.render_throughput import main

if __name__ == "__main__":
    sys.exit(main(prog="python benches/bench_chart_throughput.py"))
