"""Pictures of the autograd graph: micrograd's ``draw_dot`` for tensors.

    g = qs.viz.draw_graph(loss, params=dict(model.named_parameters()))
    g                               # in Jupyter: drawn inline
    g.render("graph", format="svg")  # graph.svg (needs Graphviz's `dot` program)
    print(g.source)                  # the DOT text, with or without `dot`

One box per op (the :class:`~quasar.autograd.Function` that recorded it) and
one per leaf (a tensor that no op made: an input, a parameter, a constant);
an arrow runs from each input to the op that used it, so the picture reads
from the inputs to the output, as the forward pass ran. Leaves show their
name (from ``params``), shape and dtype; the output box its shape. (A node
keeps no intermediate tensor, so inner ops show only their name.)

After ``backward()`` the picture keeps its shape: nodes keep their parents
(the graph's structure) and the leaves that need gradients, as PyTorch's do.
Backward frees what a node saved and lets go of constant inputs (tensors that
need no gradient, such as a batch of data): those are drawn as freed.

Needs the ``graphviz`` Python package (``pip install graphviz``, or
``pip install quasar[viz]``); rendering to SVG/PNG also needs Graphviz's
``dot`` program (``apt-get install graphviz``, ``brew install graphviz``,
``conda install graphviz``).
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .autograd import Function
from .tensor import Tensor

INSTALL_DOT = (
    "Graphviz's `dot` program is not installed, so the graph can't be rendered "
    "(its DOT text is in .source). Install it with `apt-get install graphviz` "
    "(Debian/Ubuntu), `brew install graphviz` (macOS) or `conda install graphviz`."
)

# the picture's colours: leaves that learn, leaves that don't, ops, the output
PARAMETER_STYLE = {"shape": "box", "style": "filled,rounded", "fillcolor": "lightblue"}
CONSTANT_STYLE = {"shape": "box", "style": "filled,rounded", "fillcolor": "gray92"}
OP_STYLE = {"shape": "box", "style": "filled", "fillcolor": "lightyellow"}
OUTPUT_STYLE = {"shape": "box", "style": "filled,bold", "fillcolor": "darkolivegreen1"}


def draw_graph(
    tensor: Tensor,
    params: Mapping[str, Tensor] | Iterable[tuple[str, Tensor]] | None = None,
    show_data: bool = False,
    show_grad: bool = False,
    max_nodes: int = 200,
) -> Any:
    """The graph that computed ``tensor``, as a ``graphviz.Digraph``.

    tensor: the output (any shape); its ``grad_fn`` is the graph's root.
    params: names for leaves: ``dict(model.named_parameters())``, a mapping
        or (name, tensor) pairs; a leaf not named there is "input" when it
        requires grad, else "constant".
    show_data / show_grad: also print each leaf's values / ``.grad`` (and the
        output's values) in its box, abbreviated like NumPy does.
    max_nodes: stop after this many op boxes; a last box says how many more
        ops there were (a 100,000-op chain would otherwise make an unreadable
        picture, and take dot minutes to lay out).
    """
    graphviz = _import_graphviz()
    if not isinstance(tensor, Tensor):
        raise TypeError(f"draw_graph: expected a quasar Tensor, got {type(tensor).__name__}")
    if max_nodes < 1:
        raise ValueError(f"draw_graph: max_nodes must be at least 1, got {max_nodes}")
    names = _names_by_identity(params)
    graph = graphviz.Digraph("quasar", graph_attr={"rankdir": "LR"}, node_attr={"fontname": "Helvetica"})

    output_label = _tensor_label("output", tensor, show_data, show_grad)
    graph.node("output", output_label, **OUTPUT_STYLE)
    root = tensor.grad_fn
    if root is None:  # a leaf: the picture is that one box
        return _with_dot_check(graph)

    op_ids: dict[int, str] = {}  # id(node) -> its box's name
    leaf_ids: dict[int, str] = {}  # id(leaf tensor) -> its box's name (a leaf used twice: one box)
    out_shapes = {id(root): (tuple(tensor.shape), tensor.dtype)}
    order = _nodes_breadth_first(root, max_nodes)
    for node in order:
        op_ids[id(node)] = f"op{len(op_ids)}"
    for node in order:
        name = op_ids[id(node)]
        graph.node(name, _op_label(node, out_shapes.get(id(node))), **OP_STYLE)
        needs = getattr(node, "needs_input_grad", ())
        for position, (parent_node, parent) in enumerate(_inputs(node)):
            if parent_node is not None:
                source = op_ids.get(id(parent_node))
                if source is None:  # beyond max_nodes
                    continue
            elif parent is not None:
                source = leaf_ids.get(id(parent))
                if source is None:
                    source = leaf_ids[id(parent)] = f"leaf{len(leaf_ids)}"
                    kind = names.get(id(parent)) or ("input" if parent.requires_grad else "constant")
                    style = PARAMETER_STYLE if parent.requires_grad else CONSTANT_STYLE
                    graph.node(source, _tensor_label(kind, parent, show_data, show_grad), **style)
            else:  # backward freed the node's inputs: what is left is where the leaf went
                source = f"{name}_in{position}"
                learns = position < len(needs) and needs[position]
                style = PARAMETER_STYLE if learns else CONSTANT_STYLE
                graph.node(source, _dot_lines(["leaf" if learns else "constant", "(freed by backward)"]), **style)
            graph.edge(source, name)
    graph.edge(op_ids[id(root)], "output")
    hidden = _count_beyond(order, max_nodes)
    if hidden:
        graph.node("more", _dot_lines([f"... {hidden} more op(s) not drawn", f"(max_nodes={max_nodes})"]),
                   shape="plaintext")
        for node in order:
            if any(p is not None and id(p) not in op_ids for p in _parent_nodes(node)):
                graph.edge("more", op_ids[id(node)], style="dashed")
    return _with_dot_check(graph)


def _import_graphviz():
    try:
        import graphviz
    except ImportError:
        raise ImportError(
            "draw_graph needs the 'graphviz' Python package: pip install graphviz "
            "(or pip install quasar[viz]); rendering pictures also needs Graphviz's `dot` "
            "program (apt-get install graphviz, brew install graphviz or conda install graphviz)"
        ) from None
    return graphviz


def _with_dot_check(graph):
    """Say, once per call, how to get `dot` when it is missing; the DOT source is returned anyway."""
    if shutil.which("dot") is None:
        warnings.warn(INSTALL_DOT, RuntimeWarning, stacklevel=3)
    return graph


def _names_by_identity(params) -> dict[int, str]:
    if params is None:
        return {}
    items = params.items() if isinstance(params, Mapping) else params
    return {id(t): str(name) for name, t in items}


def _inputs(node):
    """(parent op node, None) or (None, leaf tensor) per input of ``node``;
    (None, None) where backward let go of a constant input (one that needs no grad)."""
    return [(p, None) if isinstance(p, Function) else (None, p) for p in getattr(node, "parents", ())]


def _parent_nodes(node):
    return [p for p, _ in _inputs(node) if p is not None]


def _nodes_breadth_first(root, max_nodes):
    """The first max_nodes op nodes reachable from root, nearest first (no recursion)."""
    order, seen, queue = [], {id(root)}, [root]
    while queue and len(order) < max_nodes:
        node = queue.pop(0)
        order.append(node)
        for parent_node in _parent_nodes(node):
            if id(parent_node) not in seen:
                seen.add(id(parent_node))
                queue.append(parent_node)
    return order


def _count_beyond(order, max_nodes):
    """How many op nodes the picture left out (0 when it shows them all)."""
    if len(order) < max_nodes:
        return 0
    drawn = {id(node) for node in order}
    seen, stack = set(drawn), [p for node in order for p in _parent_nodes(node)]
    hidden = 0
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        hidden += 1
        stack.extend(_parent_nodes(node))
    return hidden


def _op_label(node, out):
    lines = [type(node).__name__]
    if out is not None:
        shape, dtype = out
        lines.append(f"{_shape_text(shape)} {dtype}")
    return _dot_lines(lines)


def _tensor_label(kind, t, show_data, show_grad):
    lines = [kind, f"{_shape_text(t.shape)} {t.dtype}"]
    if show_data:
        lines.append("data " + _values_text(t.array))
    if show_grad and t.requires_grad:  # a constant never has one
        lines.append("grad " + ("None" if t.grad is None else _values_text(t.grad.array)))
    return _dot_lines(lines)


def _dot_lines(lines):
    """One label from lines of text, with DOT's own line breaks (``\\n``) so the source stays one line a box."""
    return "\\n".join(line.replace("\n", "\\n") for line in lines)


def _shape_text(shape):
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def _values_text(array):
    """Values on at most a few short lines (large arrays abbreviated with ...)."""
    return np.array2string(np.asarray(array), precision=4, threshold=12, edgeitems=2, separator=", ")
