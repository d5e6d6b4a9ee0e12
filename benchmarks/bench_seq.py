#!/usr/bin/env python
"""Sequence-model benchmarks (issue 11): quasar, and PyTorch beside it when importable.

    python benchmarks/bench_seq.py                 # everything, float32, 2 threads
    python benchmarks/bench_seq.py --only sdpa,lstm --threads 1 --repeat 5

Workloads (forward + backward each, float32):
  gpt       one training step of examples/char_gpt.py's model (4 layers, 4 heads,
            128-dim, block 64, batch 12, vocabulary 96): forward, backward,
            clip_grad_norm_, AdamW step
  lstm      a 2-layer LSTM, batch 32, sequence 64, input 128, hidden 256
  sdpa      scaled_dot_product_attention, batch 12, 4 heads, length 64, head dim 32, causal
  overhead  the Python time loop's cost per step: a 1-layer LSTM so small (batch 1,
            input 4, hidden 4) that the arithmetic is negligible, sequence 512;
            the time of forward + backward divided by 512 steps

Each library runs in a process of its own (PyTorch's OpenMP runtime, loaded
into the same process, made quasar's 2-thread GPT step several times slower:
see "Known limits" in README.md). Each workload reports the median and the
best of --repeat timed calls after two warm-up calls. Times in milliseconds; ratios = quasar / PyTorch (below 1:
quasar is faster).
"""

import argparse
import importlib.util
import os
import statistics
import sys

import harness
import numpy as np
from harness import ROOT, call_times

sys.path.insert(0, os.path.join(ROOT, "examples"))

# The parent and the quasar child import quasar only; the torch child imports torch only.
CHILD = sys.argv[sys.argv.index("--child") + 1] if "--child" in sys.argv else None
if CHILD == "torch":
    torch = harness.load(["torch"]).torch
    qs = F = None
else:
    torch = None
    qs = harness.load(["quasar"]).qs
    import quasar.nn.functional as F


def timings_ms(fn, repeat):
    """(median, best) of repeat timed calls after two warm-up calls, in ms. On a
    busy machine the best is the steadier number: other load only adds time."""
    times = call_times(fn, repeat, warmup=2)
    return 1e3 * statistics.median(times), 1e3 * min(times)


# ---------------------------------------------------------------- workloads (each returns a step function)


def gpt_quasar():
    spec = importlib.util.spec_from_file_location("char_gpt", os.path.join(ROOT, "examples", "char_gpt.py"))
    char_gpt = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(char_gpt)
    qs.manual_seed(0)
    model = char_gpt.GPT(char_gpt.GPTConfig(vocab_size=96))
    optimizer = qs.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1)
    rng = np.random.default_rng(0)
    x, y = qs.tensor(rng.integers(0, 96, (12, 64))), qs.tensor(rng.integers(0, 96, (12, 64)))

    def step():
        _, loss = model(x, y)
        optimizer.zero_grad()
        loss.backward()
        qs.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    return step


def lstm_quasar(batch=32, seq=64, inputs=128, hidden=256, layers=2):
    qs.manual_seed(0)
    lstm = qs.nn.LSTM(inputs, hidden, num_layers=layers)
    x = qs.randn(seq, batch, inputs).requires_grad_()

    def step():
        out, _ = lstm(x)
        out.sum().backward()

    return step


def lstm_torch(batch=32, seq=64, inputs=128, hidden=256, layers=2):
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(inputs, hidden, num_layers=layers)
    x = torch.randn(seq, batch, inputs, requires_grad=True)

    def step():
        out, _ = lstm(x)
        out.sum().backward()

    return step


def sdpa_quasar():
    qkv = [qs.randn(12, 4, 64, 32).requires_grad_() for _ in range(3)]
    grad = qs.randn(12, 4, 64, 32)

    def step():
        F.scaled_dot_product_attention(*qkv, is_causal=True).backward(grad)

    return step


def sdpa_torch():
    qkv = [torch.randn(12, 4, 64, 32, requires_grad=True) for _ in range(3)]
    grad = torch.randn(12, 4, 64, 32)

    def step():
        torch.nn.functional.scaled_dot_product_attention(*qkv, is_causal=True).backward(grad)

    return step


def gpt_torch():
    """The same model in PyTorch (nanoGPT's modules, as char_gpt.py writes them)."""
    nn, tF = torch.nn, torch.nn.functional

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1, self.ln_2 = nn.LayerNorm(128), nn.LayerNorm(128)
            self.c_attn, self.attn_proj = nn.Linear(128, 384), nn.Linear(128, 128)
            self.c_fc, self.mlp_proj = nn.Linear(128, 512), nn.Linear(512, 128)

        def forward(self, x):
            B, T, C = x.shape
            q, k, v = self.c_attn(self.ln_1(x)).split(128, dim=2)
            q, k, v = (t.view(B, T, 4, 32).transpose(1, 2) for t in (q, k, v))
            y = tF.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.attn_proj(y.transpose(1, 2).reshape(B, T, C))
            return x + self.mlp_proj(tF.gelu(self.c_fc(self.ln_2(x))))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte, self.wpe = nn.Embedding(96, 128), nn.Embedding(64, 128)
            self.h = nn.ModuleList([Block() for _ in range(4)])
            self.ln_f = nn.LayerNorm(128)
            self.lm_head = nn.Linear(128, 96, bias=False)
            self.wte.weight = self.lm_head.weight

        def forward(self, idx, targets):
            x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
            for block in self.h:
                x = block(x)
            logits = self.lm_head(self.ln_f(x))
            return tF.cross_entropy(logits.view(-1, 96), targets.view(-1))

    torch.manual_seed(0)
    model = GPT()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1)
    x, y = torch.randint(0, 96, (12, 64)), torch.randint(0, 96, (12, 64))

    def step():
        loss = model(x, y)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    return step


WORKLOADS = {
    "gpt": (gpt_quasar, gpt_torch),
    "lstm": (lstm_quasar, lstm_torch),
    "sdpa": (sdpa_quasar, sdpa_torch),
    "overhead": (lambda: lstm_quasar(batch=1, seq=512, inputs=4, hidden=4, layers=1),
                 lambda: lstm_torch(batch=1, seq=512, inputs=4, hidden=4, layers=1)),
}


def measure(library, names, threads, repeat):
    """{workload: (median, best)} for one library, in this process."""
    harness.set_threads(threads)
    column = 0 if library == "quasar" else 1
    return {name: timings_ms(WORKLOADS[name][column](), repeat) for name in names}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default=",".join(WORKLOADS), help="comma-separated workloads")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--child", choices=["quasar", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    names = args.only.split(",")
    if args.child:  # one library's numbers, as JSON, for the parent
        harness.print_result(measure(args.child, names, args.threads, args.repeat))
        return
    results = {}
    for library in ("quasar", "torch") if harness.torch_installed() else ("quasar",):
        out = harness.run_child([os.path.abspath(__file__), "--child", library, "--only", args.only,
                                 "--threads", str(args.threads), "--repeat", str(args.repeat)])
        if "error" in out:
            raise RuntimeError(f"the {library} child failed:\n{out['error']}")
        results[library] = out
    print(f"threads {args.threads}, float32, {args.repeat} timed calls; PyTorch: "
          f"{'installed' if 'torch' in results else 'not installed'}")
    print(f"{'workload':10s} {'quasar ms (median/best)':>24s} {'torch ms (median/best)':>23s} {'ratio':>12s}")
    nan = (float("nan"), float("nan"))
    for name in names:
        ours, theirs = results["quasar"][name], results.get("torch", {}).get(name, nan)
        ratios = [a / b for a, b in zip(ours, theirs)]
        extra = f"   (= {1e3 * ours[1] / 512:.1f} us per time step, fwd + bwd)" if name == "overhead" else ""
        print(f"{name:10s} {ours[0]:12.2f} {ours[1]:10.2f} {theirs[0]:12.2f} {theirs[1]:10.2f} "
              f"{ratios[0]:6.2f} {ratios[1]:5.2f}{extra}")


if __name__ == "__main__":
    main()
