"""Where does a second thread start to pay? (chooses parallel.DEFAULT_PARALLEL_THRESHOLD)

    python benchmarks/crossover.py [--threads 2] [--dtype float32]

For add, exp and a full sum, times the compiled backend on 1 thread and on
N threads (``parallel.config(max_workers=..., parallel_threshold=1)`` forces
the parallel path) across sizes, and prints the smallest size from which N
threads are faster at every larger size measured. Timings are the minimum of
several repeats, which filters out noise from other processes.

The default threshold should sit near the crossover of the *cheapest* op
(add): below it a parallel region costs more than it saves; expensive ops
(exp) would profit earlier, but they lose at most a few microseconds there.
"""

import argparse
import time

import numpy as np

from quasar import parallel
from quasar.backends import compiled as C

OPS = {
    "add": lambda x, y: C.add(x, y),
    "exp": lambda x, y: C.exp(x),
    "sum": lambda x, y: C.sum(x, (0,)),
}


def best_time(fn, budget=0.02, repeats=7):
    """Minimum over ``repeats`` of the mean time of fn() over ~budget seconds."""
    fn()
    start, calls = time.perf_counter(), 0
    while time.perf_counter() - start < budget / 4:
        fn()
        calls += 1
    calls = max(calls * 4 // repeats, 3)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def crossover(sizes, serial, threaded):
    """Smallest size from which threaded beats serial at every larger size."""
    result = None
    for size, one, many in zip(reversed(sizes), reversed(serial), reversed(threaded)):
        if many < one:
            result = size
        else:
            break
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--max-exp", type=int, default=21, help="largest size is 2**max_exp")
    args = parser.parse_args()

    sizes = [2**k for k in range(10, args.max_exp + 1)]
    rng = np.random.default_rng(0)
    print(f"{args.dtype}, 1 vs {args.threads} threads, times in microseconds")
    print(f"{'size':>9} " + " ".join(f"{op + ' x1':>10} {op + ' x' + str(args.threads):>10}" for op in OPS))
    table = {op: ([], []) for op in OPS}
    for size in sizes:
        x = rng.uniform(-1, 1, size).astype(args.dtype)
        y = rng.uniform(-1, 1, size).astype(args.dtype)
        row = [f"{size:>9}"]
        for op, fn in OPS.items():
            with parallel.config(max_workers=1, parallel_threshold=1):
                one = best_time(lambda: fn(x, y))
            with parallel.config(max_workers=args.threads, parallel_threshold=1):
                many = best_time(lambda: fn(x, y))
            table[op][0].append(one)
            table[op][1].append(many)
            row.append(f"{one * 1e6:>10.1f} {many * 1e6:>10.1f}")
        print(" ".join(row))
    print()
    for op, (one, many) in table.items():
        size = crossover(sizes, one, many)
        print(f"crossover {op}: {size if size is not None else '> ' + str(sizes[-1])} elements")
    print(f"current DEFAULT_PARALLEL_THRESHOLD = {parallel.DEFAULT_PARALLEL_THRESHOLD}")


if __name__ == "__main__":
    main()
