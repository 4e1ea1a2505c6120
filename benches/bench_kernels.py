"""Kernel benchmarks: each Rust kernel against the best numpy/shapely baseline.

    python benches/bench_kernels.py [--quick] [--repeat N] [--markdown PATH] [--seed S]

The same as ``vsdpo bench kernels``; see benches/README.md for what is measured.
"""

import sys

from vsdpo.bench.kernels import main

if __name__ == "__main__":
    sys.exit(main(prog="python benches/bench_kernels.py"))
