"""``make soak``: long runs that must not leak (not part of ``make test``: minutes).

1. 10,000 training steps of an MLP with Adam: the resident memory (RSS) after
   step 1,000 and after step 10,000 must agree within a few MB.
2. Kept graphs are freed on ``del``: 100 losses kept alive with their graphs
   hold memory; deleting them gives it back, and weak references to their
   nodes and intermediates die.
3. A chain of 200,000 ops: forward, backward (no recursion limit), the right
   gradient, and its memory freed afterwards.

Prints what it measured; exits with status 1 if any check fails.
"""

import gc
import os
import sys
import time
import weakref

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import quasar as qs  # noqa: E402
import quasar.nn.functional as F  # noqa: E402

MB = 1024 * 1024
failures = []


def rss():
    """This process's resident memory in bytes (Linux /proc; elsewhere the peak from getrusage)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import resource

        scale = 1 if sys.platform == "darwin" else 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what, flush=True)
    if not ok:
        failures.append(what)


def training_steps(steps=10_000, slack_mb=8):
    qs.manual_seed(0)
    model = qs.nn.MLP(32, [64, 64, 10])
    optimizer = qs.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    x = qs.tensor(rng.standard_normal((64, 32)).astype(np.float32))
    y = qs.tensor(rng.integers(0, 10, 64))
    start, marks = time.perf_counter(), {}
    for step in range(1, steps + 1):
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step in (1_000, steps // 2, steps):
            gc.collect()
            marks[step] = rss()
    grown = (marks[steps] - marks[1_000]) / MB
    print(f"      {steps} steps in {time.perf_counter() - start:.1f} s; RSS at step 1,000 {marks[1_000] / MB:.1f} MB, "
          f"at {steps // 2} {marks[steps // 2] / MB:.1f} MB, at {steps} {marks[steps] / MB:.1f} MB")
    check(grown < slack_mb, f"RSS flat over {steps} training steps (grew {grown:+.1f} MB, allowed {slack_mb})")
    check(np.isfinite(loss.item()), f"the loss stayed finite ({loss.item():.4f})")


def kept_graphs_are_freed(n=100):
    rng = np.random.default_rng(1)
    w = qs.tensor(rng.standard_normal((256, 256)).astype(np.float32), requires_grad=True)
    gc.collect()
    before = rss()
    kept, nodes, intermediates = [], [], []
    for _ in range(n):
        x = qs.tensor(rng.standard_normal((64, 256)).astype(np.float32))
        hidden = x @ w
        loss = qs.tanh(hidden).sum()
        kept.append(loss)
        nodes.append(weakref.ref(loss.grad_fn))
        intermediates.append(weakref.ref(hidden))
    del x, hidden, loss
    gc.collect()
    holding = rss()
    del kept
    gc.collect()
    after = rss()
    print(f"      {n} kept graphs: RSS {before / MB:.1f} MB before, {holding / MB:.1f} MB holding them, "
          f"{after / MB:.1f} MB after del")
    check(all(ref() is None for ref in nodes), "every kept graph's nodes are freed on del")
    check(all(ref() is None for ref in intermediates), "every kept graph's intermediate tensors are freed on del")
    check(after - before < (holding - before) / 2 + 2 * MB, "the memory the kept graphs held is given back")


def chain(n):
    """(seconds, x.grad, weakref to the last node, RSS after del) for a chain of n ops."""
    x = qs.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    y = x
    start = time.perf_counter()
    for i in range(n):
        y = y * 1.0 if i % 2 else y + 0.0  # d y / d x stays exactly 1
    y.sum().backward()
    seconds = time.perf_counter() - start
    node = weakref.ref(y.grad_fn)
    del y
    gc.collect()
    return seconds, x.grad.array, node, rss()


def long_chain(n=200_000, runs=3):
    """Several chains: the first ones may leave malloc's arenas larger (it keeps
    freed memory for reuse); after that RSS must stay put, and no Python
    object may be left behind (a leak would keep the whole chain)."""
    gc.collect()
    before, objects = rss(), len(gc.get_objects())
    results = [chain(n) for _ in range(runs)]
    seconds, grad, node, _ = results[0]
    after = [r[3] for r in results]
    left = len(gc.get_objects()) - objects
    print(f"      a chain of {n} ops, forward and backward: {seconds:.1f} s; RSS {before / MB:.1f} MB before, "
          + ", ".join(f"{a / MB:.1f} MB" for a in after) + f" after each of {runs} chains")
    check(np.array_equal(grad, np.ones(3)), f"the gradient through {n} ops is exact")
    check(node() is None, "the chain's nodes are freed on del")
    check(left < 100, f"no Python objects left behind ({left:+d})")
    check(after[-1] - after[-2] < 8 * MB, f"RSS settles: the last chain took no more memory "
          f"({(after[-1] - after[-2]) / MB:+.1f} MB)")


if __name__ == "__main__":
    print("soak: long runs that must not leak")
    training_steps()
    kept_graphs_are_freed()
    long_chain()
    if failures:
        print(f"soak FAILED: {len(failures)} check(s)")
        sys.exit(1)
    print("soak passed")
