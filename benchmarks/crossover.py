"""Where does a second thread start to pay? (chooses parallel.DEFAULT_PARALLEL_THRESHOLD)

    python benchmarks/crossover.py [--threads 2] [--dtype float32]

For add, exp, pow and a full sum, times the compiled backend on 1 thread and on
N threads (``parallel.config(max_workers=..., parallel_threshold=1)`` forces
the parallel path) across sizes, and prints the smallest size from which N
threads are faster at every larger size measured. Timings are the minimum of
several repeats, which filters out noise from other processes.

The default threshold is the crossover of add: below it a parallel region
costs more than it saves. An op that pays off earlier (pow) or later (a
reduction) is weighted by the compiled backend: its elements count
``add crossover / its crossover`` times, the ratio printed here.

The timings include what every call pays: allocating the output and the page
faults of first touching it.
"""

import argparse
import importlib
import time

import numpy as np

from quasar import parallel

C = importlib.import_module("quasar.backends.compiled")  # the module, not the assembled backend

OPS = {
    "add": lambda x, y: C.add(x, y),
    "exp": lambda x, y: C.exp(x),
    "pow": lambda x, y: C.pow(y, x),  # y > 0, see main()
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
        y = rng.uniform(0.5, 2, size).astype(args.dtype)  # a positive base for pow
        row = [f"{size:>9}"]
        for op, fn in OPS.items():
            call = lambda fn=fn, x=x, y=y: fn(x, y)
            with parallel.config(max_workers=1, parallel_threshold=1):
                one = best_time(call)
            with parallel.config(max_workers=args.threads, parallel_threshold=1):
                many = best_time(call)
            table[op][0].append(one)
            table[op][1].append(many)
            row.append(f"{one * 1e6:>10.1f} {many * 1e6:>10.1f}")
        print(" ".join(row))
    print()
    found = {}
    for op, (one, many) in table.items():
        found[op] = crossover(sizes, one, many)
        where = found[op] if found[op] is not None else "> " + str(sizes[-1])
        weight = f"  weight (add crossover / this one) {found['add'] / found[op]:g}" \
            if found["add"] and found[op] else ""
        print(f"crossover {op}: {where} elements{weight}")
    print(f"in use: DEFAULT_PARALLEL_THRESHOLD = {parallel.DEFAULT_PARALLEL_THRESHOLD}, "
          f"pow weight {C._POW_WEIGHT}, reductions count 1/{C._REDUCTION_DIVISOR}")


if __name__ == "__main__":
    main()
