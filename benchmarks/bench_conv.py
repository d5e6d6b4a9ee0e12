#!/usr/bin/env python
"""Convolution-family benchmark (issue 10): quasar's conv2d, pooling, batch norm
and a LeNet-5-like training step, forward + backward, float32, with a PyTorch
column when torch is importable (it is optional; the suite never needs it).

    python benchmarks/bench_conv.py                  # all workloads, every allowed core
    python benchmarks/bench_conv.py --threads 2 --min-time 0.2
    python benchmarks/bench_conv.py --quick          # fewer, shorter samples

Each number is the median of several samples after a warm-up; a sample times
enough calls to last --min-time seconds. The ratio is time quasar / PyTorch
(below 1.00 quasar is faster). These are measurements, never pass/fail tests.

PyTorch runs in a child process of its own: both libraries load an OpenMP
runtime named libgomp.so.1, only the first one loaded is used, and torch's
spinning workers next to quasar's (and BLAS's) would slow both down.
"""

import argparse
import os
import sys

import harness
import numpy as np
from harness import median_time

TORCH_CHILD = "--_torch-child" in sys.argv
if TORCH_CHILD:  # the child measures PyTorch alone: quasar is never imported there
    torch = harness.load(["torch"]).torch
    qs = F = None
else:
    torch = None
    qs = harness.load(["quasar"]).qs
    import quasar.nn.functional as F

import threadpoolctl  # noqa: E402


def measure(fn, min_time, samples):
    """Median seconds per call of fn over ``samples`` samples of >= min_time each, after two warm-up calls."""
    return median_time(fn, min_time, samples, warmup=2)


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# ---------------------------------------------------------------- the workloads, once per library


def conv_case(stride=1, groups=1, cin=16, cout=32):
    x, w, b = rand(32, cin, 32, 32), rand(cout, cin // groups, 3, 3, seed=1) * 0.1, rand(cout, seed=2)

    def quasar():
        xt, wt, bt = (qs.tensor(a, requires_grad=True) for a in (x, w, b))
        F.conv2d(xt, wt, bt, stride=stride, padding=1, groups=groups).sum().backward()

    def pytorch():
        xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        torch.nn.functional.conv2d(xt, wt, bt, stride=stride, padding=1, groups=groups).sum().backward()

    return quasar, pytorch


def pool_case():
    x = rand(32, 16, 32, 32)

    def quasar():
        xt = qs.tensor(x, requires_grad=True)
        F.max_pool2d(xt, 2).sum().backward()

    def pytorch():
        xt = torch.tensor(x, requires_grad=True)
        torch.nn.functional.max_pool2d(xt, 2).sum().backward()

    return quasar, pytorch


def batch_norm_case():
    x, w, b = rand(32, 16, 32, 32), rand(16, seed=1), rand(16, seed=2)

    def quasar():
        xt, wt, bt = (qs.tensor(a, requires_grad=True) for a in (x, w, b))
        F.batch_norm(xt, None, None, wt, bt, training=True).sum().backward()

    def pytorch():
        xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        torch.nn.functional.batch_norm(xt, None, None, wt, bt, training=True).sum().backward()

    return quasar, pytorch


def lenet(nn):
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )


def lenet_case():
    x, y = rand(64, 1, 28, 28), np.random.default_rng(3).integers(0, 10, 64)
    if not TORCH_CHILD:
        qs.manual_seed(0)
        q_model = lenet(qs.nn)
        q_opt = qs.optim.SGD(q_model.parameters(), lr=0.01, momentum=0.9)
        q_x, q_y = qs.tensor(x), qs.tensor(y)

        def quasar():
            loss = F.cross_entropy(q_model(q_x), q_y)
            q_opt.zero_grad()
            loss.backward()
            q_opt.step()

        return quasar, None
    t_model = lenet(torch.nn)
    t_opt = torch.optim.SGD(t_model.parameters(), lr=0.01, momentum=0.9)
    t_x, t_y = torch.tensor(x), torch.tensor(y)

    def pytorch():
        loss = torch.nn.functional.cross_entropy(t_model(t_x), t_y)
        t_opt.zero_grad()
        loss.backward()
        t_opt.step()

    return None, pytorch


WORKLOADS = [
    ("conv2d 16->32, 32x32, 3x3, pad 1", lambda: conv_case()),
    ("conv2d stride 2", lambda: conv_case(stride=2)),
    ("conv2d depthwise (groups=16)", lambda: conv_case(groups=16, cout=16)),
    ("max_pool2d 2x2", pool_case),
    ("batch_norm 2-D", batch_norm_case),
    ("LeNet-5 training step, batch 64", lenet_case),
]


def set_threads(n):
    """n threads for the library of this process (and NumPy's BLAS)."""
    harness.set_threads(n)


def torch_times(args):
    """{workload: seconds} from a child process running PyTorch alone, or {} without torch."""
    if not harness.torch_installed():
        return {}
    out = harness.run_child([os.path.abspath(__file__), "--_torch-child", "--threads", str(args.threads), "--min-time",
                             str(args.min_time), "--samples", str(args.samples)])
    if "error" in out:
        raise RuntimeError(f"the PyTorch child failed:\n{out['error']}")
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--min-time", type=float, default=0.3)
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="3 samples of 0.1 s")
    parser.add_argument("--_torch-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.min_time, args.samples = 0.1, 3
    if TORCH_CHILD:
        set_threads(args.threads)
        harness.print_result({name: measure(make()[1], args.min_time, args.samples) for name, make in WORKLOADS})
        return
    peer = torch_times(args)
    print(f"float32, {args.threads} threads, forward + backward; median of {args.samples} samples; "
          f"PyTorch {'in a child process' if peer else 'not installed'}")
    print(f"{'workload':<36} {'quasar ms':>10} {'torch ms':>10} {'ratio':>7}")
    with threadpoolctl.threadpool_limits(args.threads, user_api="blas"):
        set_threads(args.threads)  # the same count PyTorch's child set
        for name, make in WORKLOADS:
            quasar, _ = make()
            q = measure(quasar, args.min_time, args.samples)
            t = peer.get(name)
            ratio = f"{q / t:7.2f}" if t else "      -"
            torch_ms = f"{t * 1e3:10.3f}" if t else "         -"
            print(f"{name:<36} {q * 1e3:10.3f} {torch_ms} {ratio}")
        if args.threads >= 2:  # the thread scaling of the main convolution
            quasar, _ = conv_case()
            times = {}
            for n in (1, 2):
                with threadpoolctl.threadpool_limits(n, user_api="blas"):
                    set_threads(n)
                    times[n] = measure(quasar, args.min_time, args.samples)
            print(f"conv2d speedup 1 -> 2 threads: {times[1] / times[2]:.2f}x "
                  f"({times[1] * 1e3:.2f} ms -> {times[2] * 1e3:.2f} ms)")


if __name__ == "__main__":
    main()
