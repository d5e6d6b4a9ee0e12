"""A character-level GPT that learns to write Python from Python's own standard library.

nanoGPT's model, written the way a PyTorch user writes it (swap the import
for torch and it reads the same): token and position embeddings, blocks of
causal self-attention and an MLP, each behind a LayerNorm with a residual
connection, and an output layer that shares its weight with the token
embedding (weight tying).

1. Data: every ``.py`` file of the standard library (``sysconfig``'s "stdlib"
   directory, a fixed sorted list, so every machine and every run sees the same
   order), joined; characters outside ASCII become "?". The first 90% of the
   characters train, the last 10% validate.
2. Model (``GPT`` below, ``GPTConfig`` its sizes): nanoGPT's CPU configuration: 4 layers, 4 heads, 128-dim
   embeddings, a context of 64 characters, no dropout (~0.8M parameters).
3. Training: batches of 12 random windows; AdamW (weight decay on the
   matrices only: a second param group), a linear warmup then a cosine decay
   (SequentialLR), gradient clipping at norm 1. A tqdm bar shows the loss and
   tokens/s; train and validation losses are estimated every so often, plotted
   to char_gpt_loss.png and written with a checkpoint (char_gpt_checkpoint.npz).
   ``--resume`` continues from the checkpoint exactly where it stopped.
4. Sampling: 500 characters after a prompt, with temperature and top-k.

Run:  python examples/char_gpt.py [--iters 2000] [--resume] [--model lstm]
(QUASAR_EXAMPLE_FAST=1: a tiny model, a few steps, a few seconds.)
``--model lstm`` trains a 2-layer LSTM language model on the same data instead.
"""

import argparse
import dataclasses
import math
import os
import pathlib
import sysconfig
import time

import numpy as np
from _common import FAST, check_finite, require

import quasar as qs
import quasar.nn.functional as F
from quasar import nn

tqdm = require("tqdm").tqdm
matplotlib = require("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# ---------------------------------------------------------------- the model


@dataclasses.dataclass
class GPTConfig:
    vocab_size: int
    block_size: int = 64
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0


class CausalSelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd)  # query, key, value for all heads at once
        self.c_proj = nn.Linear(config.n_embd, config.n_embd)
        self.n_head, self.n_embd, self.dropout = config.n_head, config.n_embd, config.dropout

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0, is_causal=True)
        return self.c_proj(y.transpose(1, 2).reshape(B, T, C))


class MLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd)

    def forward(self, x):
        return self.c_proj(self.gelu(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd)
        self.mlp = MLP(config)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(config.vocab_size, config.n_embd),
            wpe=nn.Embedding(config.block_size, config.n_embd),
            h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
            ln_f=nn.LayerNorm(config.n_embd),
        ))
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # weight tying: one Parameter, two uses
        self.apply(self._init_weights)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):  # GPT-2's scaled init of the residual projections
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    def _init_weights(self, module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, idx, targets=None):
        B, T = idx.shape
        pos = qs.arange(T)
        x = self.transformer.wte(idx) + self.transformer.wpe(pos)
        for block in self.transformer.h:
            x = block(x)
        logits = self.lm_head(self.transformer.ln_f(x))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))
        return logits, loss


class CharLSTM(nn.Module):
    """The same task with a 2-layer LSTM: embed, recur, project to the vocabulary."""

    def __init__(self, config, hidden=256):
        super().__init__()
        self.embed = nn.Embedding(config.vocab_size, config.n_embd)
        self.lstm = nn.LSTM(config.n_embd, hidden, num_layers=2, batch_first=True)
        self.head = nn.Linear(hidden, config.vocab_size)

    def forward(self, idx, targets=None):
        out, _ = self.lstm(self.embed(idx))
        logits = self.head(out)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        return logits, loss


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iters", type=int, default=30 if FAST else 2000, help="training steps in all")
    parser.add_argument("--resume", action="store_true", help="continue from char_gpt_checkpoint.npz")
    parser.add_argument("--model", choices=["gpt", "lstm"], default="gpt")
    parser.add_argument("--checkpoint", default="char_gpt_checkpoint.npz")
    args = parser.parse_args()

    # ------------------------------------------------------------ configuration (nanoGPT's shakespeare_char on CPU)
    n_layer, n_head, n_embd, block_size, batch_size = (2, 2, 32, 32, 4) if FAST else (4, 4, 128, 64, 12)
    dropout = 0.0
    learning_rate, min_lr, warmup_iters = 1e-3, 1e-4, (5 if FAST else 100)
    eval_interval, eval_iters = (10, 2) if FAST else (250, 20)
    grad_clip, weight_decay = 1.0, 0.1
    max_files = 20 if FAST else None

    # ------------------------------------------------------------ 1. data

    def load_corpus():
        """The standard library's .py files, sorted by path, as one ASCII string."""
        root = pathlib.Path(sysconfig.get_paths()["stdlib"])
        files = sorted(p for p in root.rglob("*.py") if "site-packages" not in p.parts)[:max_files]
        texts = []
        for path in files:
            try:
                texts.append(path.read_text(encoding="utf-8"))
            except (UnicodeDecodeError, OSError):
                continue  # a few test files are deliberately not UTF-8
        return len(files), "\n".join(texts).encode("ascii", errors="replace").decode("ascii")  # non-ASCII -> "?"

    n_files, text = load_corpus()
    chars = sorted(set(text))
    vocab_size = len(chars)
    stoi = {c: i for i, c in enumerate(chars)}
    data = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    lookup = np.zeros(128, np.int64)
    lookup[[ord(c) for c in chars]] = np.arange(vocab_size)
    data = lookup[data]
    split = int(0.9 * len(data))
    train_data, val_data = data[:split], data[split:]
    print(f"corpus: {n_files} files, {len(data):,} characters, vocabulary of {vocab_size}; "
          f"{len(train_data):,} train / {len(val_data):,} validation")

    def get_batch(source, rng):
        """batch_size random windows of block_size characters and the same shifted by one."""
        starts = rng.integers(0, len(source) - block_size - 1, size=batch_size)
        x = np.stack([source[s : s + block_size] for s in starts])
        y = np.stack([source[s + 1 : s + 1 + block_size] for s in starts])
        return qs.tensor(x), qs.tensor(y)

    qs.manual_seed(1337)
    config = GPTConfig(vocab_size, block_size, n_layer, n_head, n_embd, dropout)
    model = GPT(config) if args.model == "gpt" else CharLSTM(config, hidden=64 if FAST else 256)
    n_params = sum(p.numel() for p in model.parameters())  # the tied weight counts once
    print(f"model: {args.model}, {n_params / 1e6:.2f}M parameters, backend {qs.get_backend()}, "
          f"{qs.get_num_threads()} threads")

    # ------------------------------------------------------------ 3. training
    decay = [p for p in model.parameters() if p.ndim >= 2]  # matrices and embeddings decay, biases and norms do not
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    optimizer = qs.optim.AdamW(groups, lr=learning_rate, betas=(0.9, 0.99))
    schedulers = qs.optim.lr_scheduler
    scheduler = schedulers.SequentialLR(optimizer, [
        schedulers.LinearLR(optimizer, start_factor=1 / warmup_iters, total_iters=warmup_iters),
        schedulers.CosineAnnealingLR(optimizer, T_max=max(args.iters - warmup_iters, 1), eta_min=min_lr),
    ], milestones=[warmup_iters])

    start_iter, history = 0, {"iter": [], "train": [], "val": []}
    if args.resume and os.path.exists(args.checkpoint):
        checkpoint = qs.load(args.checkpoint)
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        start_iter, history = checkpoint["iter"], checkpoint["history"]
        print(f"resumed from {args.checkpoint} at step {start_iter}")

    @qs.no_grad()
    def estimate_loss():
        """Mean loss over eval_iters fixed batches of each split (the same batches every time)."""
        model.eval()
        losses = {}
        for name, source in (("train", train_data), ("val", val_data)):
            rng = np.random.default_rng(12345)
            losses[name] = float(np.mean([model(*get_batch(source, rng))[1].item() for _ in range(eval_iters)]))
        model.train()
        return losses

    def save_checkpoint(step):
        qs.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                 "iter": step, "history": history}, args.checkpoint)

    def plot_losses():
        plt.figure(figsize=(6, 4))
        plt.plot(history["iter"], history["train"], label="train")
        plt.plot(history["iter"], history["val"], label="validation")
        plt.xlabel("training step")
        plt.ylabel("cross-entropy loss (nats per character)")
        plt.title(f"char-level {args.model} on the Python standard library")
        plt.legend()
        plt.tight_layout()
        plt.savefig("char_gpt_loss.png", dpi=100)
        plt.close()

    model.train()
    bar = tqdm(range(start_iter, args.iters), desc="training", unit="step", initial=start_iter, total=args.iters)
    tokens, started = 0, time.perf_counter()
    for step in bar:
        if step % eval_interval == 0 or step == args.iters - 1:
            losses = estimate_loss()
            history["iter"].append(step)
            history["train"].append(losses["train"])
            history["val"].append(losses["val"])
            bar.write(f"step {step}: train loss {losses['train']:.4f}, val loss {losses['val']:.4f}")
            save_checkpoint(step)
        x, y = get_batch(train_data, np.random.default_rng(step))  # batches fixed by the step: resume is exact
        _, loss = model(x, y)
        value = check_finite(loss, step)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        scheduler.step()
        tokens += x.numel()
        bar.set_postfix(loss=f"{value:.3f}", tok_s=f"{tokens / (time.perf_counter() - started):.0f}")
    bar.close()
    save_checkpoint(args.iters)
    plot_losses()
    print(f"final: train loss {history['train'][-1]:.4f}, val loss {history['val'][-1]:.4f}")

    # ------------------------------------------------------------ 4. sampling

    def sample_next(logits, temperature, top_k):
        """One character index from the last position's logits: keep the top_k,
        soften by temperature, then invert the cumulative distribution at a
        uniform draw from quasar's generator (qs.manual_seed makes it repeatable)."""
        scaled = logits / temperature
        if top_k is not None and top_k < scaled.shape[-1]:
            kth = np.sort(scaled.array)[-top_k]
            scaled = scaled.masked_fill(scaled < float(kth), -math.inf)
        probs = F.softmax(scaled, dim=-1).array.astype(np.float64)
        index = int(np.searchsorted(np.cumsum(probs), qs.creation.generator().random() * probs.sum(), side="right"))
        return min(index, len(probs) - 1)

    @qs.no_grad()
    def generate(prompt, new_chars, temperature=0.8, top_k=20):
        model.eval()
        idx = [stoi.get(c, stoi.get("?", 0)) for c in prompt]
        for _ in range(new_chars):
            context = qs.tensor(np.array([idx[-block_size:]]))
            logits, _ = model(context)
            idx.append(sample_next(logits[0, -1], temperature, top_k))
        return "".join(chars[i] for i in idx)

    qs.manual_seed(42)
    sample_length = 100 if FAST else 500
    print(f"--- {sample_length} sampled characters (temperature 0.8, top-k 20) ---")
    print(generate("def ", sample_length))
    print("---")


if __name__ == "__main__":
    main()
