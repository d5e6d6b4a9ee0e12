"""Products built on matmul: einsum, tensordot, addmm and baddbmm.

Nothing here is a new node: every product is a sequence of existing
differentiable ops (diagonal, sum, expand, permute, reshape and the BLAS
``matmul``), so the gradients come from theirs, and every contraction is
one (batched) matrix product, never a Python loop over elements.

einsum, step by step
--------------------
1. Parse the subscripts; ``...`` stands for the broadcast dims an operand
   has beyond its letters (right-aligned, as NumPy and PyTorch do).
2. Per operand: a letter repeated in it (``'ii'``) takes the diagonal; size-1
   dims broadcast to the letter's size; a letter no one else needs is summed.
3. Operands are contracted left to right: each pair is permuted to
   (batch, own, contracted) x (batch, contracted, own), reshaped to 3-D,
   multiplied with matmul, and reshaped back.
4. The result is permuted to the output's order.
"""

import numbers

import numpy as np

from ..tensor import Tensor
from .common import broadcast_shape, normalize_dim, require_float
from .layout import diagonal
from .linalg import matmul
from .shape import expand, permute, reshape

ELLIPSIS = "."  # the label of every ellipsis dim is ("." , k): ellipsis dim k from the right


# ---------------------------------------------------------------- einsum


def _parse(equation, ndims):
    """Per-operand label lists and the output's labels.

    A label is a letter, or ('.', k) for the k-th ellipsis dim counted from
    the right (so ellipses of different lengths line up right-aligned).
    """
    equation = equation.replace(" ", "")
    inputs, arrow, output = equation.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(ndims):
        raise ValueError(f"einsum: the equation {equation!r} names {len(terms)} operands, but {len(ndims)} were given")
    labels, widest = [], 0
    for i, (term, ndim) in enumerate(zip(terms, ndims)):
        labels.append(_term_labels(equation, term, ndim, i))
        widest = max(widest, ndim - (len(term) - 3) if "..." in term else 0)
    if arrow:
        out = _term_labels(equation, output, None, "output", widest)
        letters = [x for x in out if not isinstance(x, tuple)]
        if len(set(out)) != len(out):
            raise ValueError(f"einsum: the output {output!r} repeats a subscript")
        known = {x for term in labels for x in term}
        missing = [x for x in letters if x not in known]
        if missing:
            raise ValueError(f"einsum: output subscript {missing[0]!r} does not appear in any operand")
    else:  # implicit output: the ellipsis dims, then the letters used once, alphabetically
        counts = {}
        for term in labels:
            for x in term:
                counts[x] = counts.get(x, 0) + 1
        out = [(ELLIPSIS, k) for k in range(widest - 1, -1, -1)]
        out += sorted(x for x, n in counts.items() if n == 1 and not isinstance(x, tuple))
    return labels, out


def _term_labels(equation, term, ndim, which, widest=None):
    dots = term.count("...")
    if dots > 1 or term.replace("...", "").count(".") or not all(c.isalpha() for c in term.replace("...", "")):
        raise ValueError(f"einsum: invalid subscripts {term!r} in {equation!r} (letters and at most one '...')")
    head, _, tail = term.partition("...")
    if ndim is None:  # the output: its ellipsis covers the widest operand ellipsis
        ellipsis = widest if dots else 0
    else:
        letters = len(head) + len(tail)
        if (not dots and letters != ndim) or letters > ndim:
            raise ValueError(f"einsum: subscripts {term!r} of operand {which} don't fit its {ndim} dims")
        ellipsis = ndim - letters
    return list(head) + [(ELLIPSIS, k) for k in range(ellipsis - 1, -1, -1)] + list(tail)


def _label_sizes(operands, labels):
    sizes = {}
    for i, (t, term) in enumerate(zip(operands, labels)):
        for label, n in zip(term, t.shape):
            if n != 1 and sizes.get(label, 1) not in (1, n):
                name = "..." if isinstance(label, tuple) else label
                raise ValueError(f"einsum: subscript {name!r} has size {n} in operand {i} (shape {t.shape}) "
                                 f"but {sizes[label]} elsewhere")
            sizes[label] = n if n != 1 else sizes.get(label, 1)  # a size-1 dim broadcasts to any other
    return sizes


def _take_diagonals(t, term):
    """Collapse every letter repeated within one operand to its diagonal."""
    term = list(term)
    while len(set(term)) != len(term):
        seen = {}
        for axis, label in enumerate(term):
            if label in seen:
                first = seen[label]
                t = diagonal(t, 0, first, axis)  # both dims go, the diagonal comes last
                term = [x for a, x in enumerate(term) if a not in (first, axis)] + [label]
                break
            seen[label] = axis
    return t, term


def _sum_out(t, term, needed):
    """Sum the dims whose labels are not in ``needed``."""
    dims = tuple(a for a, label in enumerate(term) if label not in needed)
    if not dims:
        return t, term
    return t.sum(dim=dims), [label for label in term if label in needed]


def _contract(a, la, b, lb, keep, sizes):
    """a (labels la) times b (labels lb), summing the shared labels not in
    ``keep``, as one batched matmul: (batch, m, k) @ (batch, k, n)."""
    batch = [x for x in la if x in lb and x in keep]
    summed = [x for x in la if x in lb and x not in keep]
    only_a = [x for x in la if x not in lb]
    only_b = [x for x in lb if x not in la]
    a = permute(a, [la.index(x) for x in batch + only_a + summed])
    b = permute(b, [lb.index(x) for x in batch + summed + only_b])
    size = lambda labels: int(np.prod([sizes[x] for x in labels]))  # noqa: E731
    a = reshape(a, (size(batch), size(only_a), size(summed)))
    b = reshape(b, (size(batch), size(summed), size(only_b)))
    out = matmul(a, b)
    return reshape(out, tuple(sizes[x] for x in batch + only_a + only_b)), batch + only_a + only_b


def einsum(equation, *operands):
    """Einstein summation: ``einsum('bij,bjk->bik', a, b)``.

    equation: comma-separated subscripts per operand, optionally ``->``
    and the output's; letters (a-z, A-Z) name dims, ``...`` the broadcast
    dims; a letter repeated in one operand takes its diagonal, a letter
    missing from the output is summed over. Without ``->`` the output is the
    ellipsis dims and the letters used once, in alphabetical order.
    operands: float tensors (given separately or as one list). Differentiable.
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise TypeError(f"einsum: the equation must be a string, got {type(equation).__name__}")
    if not operands:
        raise ValueError("einsum: expected at least one operand")
    for i, t in enumerate(operands):
        if not isinstance(t, Tensor):
            raise TypeError(f"einsum: operand {i} is a {type(t).__name__}, not a Tensor")
    require_float("einsum", *operands)
    if len({t.dtype for t in operands}) > 1:  # float32 with float64 -> float64, as any binary op
        operands = tuple(t.to(np.float64) for t in operands)
    labels, out = _parse(equation, [t.ndim for t in operands])
    sizes = _label_sizes(operands, labels)

    prepared = []
    for i, (t, term) in enumerate(zip(operands, labels)):
        t, term = _take_diagonals(t, term)
        later = {x for other in labels[:i] + labels[i + 1 :] for x in other}
        t, term = _sum_out(t, term, later | set(out))
        full = tuple(sizes[x] for x in term)
        if t.shape != full:  # size-1 dims broadcast against the other operands
            t = expand(t, *full)
        prepared.append((t, term))

    result, term = prepared[0]
    for j in range(1, len(prepared)):
        other, other_term = prepared[j]
        keep = set(out) | {x for _, rest in prepared[j + 1 :] for x in rest}
        result, term = _sum_out(result, term, keep | set(other_term))
        result, term = _contract(result, term, other, other_term, keep, sizes)
    result, term = _sum_out(result, term, set(out))
    if term != out:
        result = permute(result, [term.index(x) for x in out])
    return result


# ---------------------------------------------------------------- tensordot


def tensordot(a, b, dims=2):
    """Sum of products over dims of a and b: ``dims=n`` pairs a's last n dims
    with b's first n; ``dims=([a dims], [b dims])`` pairs them explicitly.
    Result: a's free dims, then b's. One matmul."""
    require_float("tensordot", a, b)
    if isinstance(dims, numbers.Integral) and not isinstance(dims, bool):
        if not 0 <= dims <= min(a.ndim, b.ndim):
            raise ValueError(f"tensordot: dims={dims} must be in [0, {min(a.ndim, b.ndim)}] for shapes "
                             f"{a.shape} and {b.shape}")
        dims_a, dims_b = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        try:
            dims_a, dims_b = ([d] if isinstance(d, numbers.Integral) else list(d) for d in dims)
        except (TypeError, ValueError):
            raise TypeError(f"tensordot: dims must be an int or a pair of dim lists, got {dims!r}") from None
        if len(dims_a) != len(dims_b):
            raise ValueError(f"tensordot: {len(dims_a)} dims of a paired with {len(dims_b)} dims of b")
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    if a.ndim + b.ndim > len(letters):
        raise ValueError(f"tensordot: too many dims ({a.ndim} + {b.ndim})")
    dims_a = [normalize_dim("tensordot", d, a.ndim) for d in dims_a]
    dims_b = [normalize_dim("tensordot", d, b.ndim) for d in dims_b]
    for da, db in zip(dims_a, dims_b):
        if a.shape[da] != b.shape[db]:
            raise ValueError(f"tensordot: dim {da} of a (shape {a.shape}) and dim {db} of b (shape {b.shape}) "
                             "have different sizes")
    sub_a = letters[: a.ndim]
    sub_b = list(letters[a.ndim : a.ndim + b.ndim])
    for da, db in zip(dims_a, dims_b):
        sub_b[db] = sub_a[da]
    sub_b = "".join(sub_b)
    out = "".join(x for i, x in enumerate(sub_a) if i not in dims_a) + "".join(
        x for i, x in enumerate(sub_b) if i not in dims_b)
    return einsum(f"{sub_a},{sub_b}->{out}", a, b)


# ---------------------------------------------------------------- addmm, baddbmm


def _scaled_sum(op, input, product, beta, alpha):
    """beta * input + alpha * product; beta=0 ignores input (NaN included), as in PyTorch."""
    try:
        fits = broadcast_shape(op, input.shape, product.shape) == product.shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{op}: input of shape {input.shape} can't be broadcast to the product's shape "
                         f"{product.shape}")
    if alpha != 1:
        product = product * alpha
    if beta == 0:
        return product
    return product + (input if beta == 1 else input * beta)


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """``beta * input + alpha * (mat1 @ mat2)``: mat1 (n, k), mat2 (k, m), input broadcastable to (n, m)."""
    if mat1.ndim != 2 or mat2.ndim != 2:
        raise ValueError(f"addmm: mat1 and mat2 must be 2-D, got shapes {mat1.shape} and {mat2.shape}")
    return _scaled_sum("addmm", input, matmul(mat1, mat2), beta, alpha)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """``beta * input + alpha * (batch1 @ batch2)``: batch1 (b, n, k), batch2 (b, k, m),
    input broadcastable to (b, n, m)."""
    if batch1.ndim != 3 or batch2.ndim != 3 or batch1.shape[0] != batch2.shape[0]:
        raise ValueError(f"baddbmm: batch1 and batch2 must be 3-D with the same batch size, got shapes "
                         f"{batch1.shape} and {batch2.shape}")
    return _scaled_sum("baddbmm", input, matmul(batch1, batch2), beta, alpha)
