"""The autograd machinery: grad mode, the Function base class, and backward.

How a graph is recorded
-----------------------
Every differentiable op is a subclass of :class:`Function` with two static
methods that sit side by side::

    class Mul(Function):
        @staticmethod
        def forward(ctx, a, b):             # NumPy arrays in, array out
            ctx.save_for_backward(a, b)
            return backend().mul(a, b)

        @staticmethod
        def backward(ctx, grad):            # dL/d(out) in, one dL/d(input) per input out
            a, b = ctx.saved_tensors
            return grad * b, grad * a       # (really: backend kernels)

``Mul.apply(x, y)`` runs ``forward`` on the tensors' arrays and, when any input
requires grad (and grad mode is on), returns a tensor whose ``grad_fn`` is the
ctx object: a node holding the parents and what backward needs.

Backward
--------
``run_backward`` orders the nodes without recursion (an explicit stack), so a
chain of 100,000 ops is fine, then walks them from the output back, summing
every gradient that reaches a node before calling its ``backward``.
"""

import contextlib
import functools
import threading

import numpy as np

# ---------------------------------------------------------------- grad mode (per thread)

class _GradState(threading.local):
    enabled = True  # each thread starts with grad mode on


_grad = _GradState()


def is_grad_enabled():
    """True unless this thread is inside ``no_grad()``."""
    return _grad.enabled


def set_grad_enabled(mode):
    _grad.enabled = bool(mode)


class _GradMode:
    """Context manager and decorator that sets grad mode for the calling thread."""

    mode = True

    def __enter__(self):
        self._saved = is_grad_enabled()
        set_grad_enabled(self.mode)
        return self

    def __exit__(self, *exc):
        set_grad_enabled(self._saved)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """``with qs.no_grad():`` (or ``@qs.no_grad()``): record no graph in this thread."""

    mode = False


class enable_grad(_GradMode):
    """Turn recording back on inside a ``no_grad`` block."""

    mode = True


# ---------------------------------------------------------------- Function


class Function:
    """Base class of every differentiable op; an instance is a graph node (ctx).

    Subclasses define ``forward(ctx, *arrays, **options) -> ndarray`` and
    ``backward(ctx, grad) -> gradient or tuple of gradients`` (one per tensor
    input, ``None`` where not needed; ``ctx.needs_input_grad[i]`` says which).
    """

    # A node is made for every op, so it is kept lean: the fields every node
    # sets are slots; the rare ones live in __dict__ with class defaults below.
    __slots__ = ("parents", "parent_nodes", "needs_input_grad", "__dict__")

    saved = ()  # what forward saved for backward; None once backward freed it
    versions = ()  # the inputs' version counters when forward saved something
    saved_output = None  # forward's own result, when forward saved it (exp, tanh, ...)
    out_version = None  # the output's version counter, when forward saved its result
    _retained = None  # a weakref to the output, set by retain_grad()
    _hooks = None  # the output tensor's gradient hooks (register_hook on a non-leaf)

    def save_for_backward(self, *arrays):
        """Keep arrays for backward. If one of them is an input's or the
        output's data, backward checks it was not changed in place since."""
        self.saved = arrays

    @property
    def saved_tensors(self):
        """The saved arrays, after checking none was modified in place since forward."""
        saved = self.saved
        if saved is None:
            raise RuntimeError(
                f"{type(self).__name__}: trying to backward through the graph a second time; "
                "its saved values were freed. Pass retain_graph=True to the first backward()."
            )
        for parent, version in zip(self.parents, self.versions):
            if parent._version[0] != version:  # changed in place: does this node need it?
                for array in saved:
                    if array is parent.array:
                        self._modified(parent.shape, parent._version[0], version)
        if self.out_version is not None and self.out_version[0]:
            self._modified(self.saved_output.shape, self.out_version[0], 0)
        return saved

    def _modified(self, shape, now, then):
        raise RuntimeError(
            f"{type(self).__name__}: one of the tensors needed for gradient computation "
            f"(shape {tuple(shape)}) has been modified by an in-place operation "
            f"(version {now}, expected {then})."
        )

    @classmethod
    def apply(cls, *inputs, **options):
        """Run forward on the inputs' arrays; record a node if grad is needed.

        inputs: Tensors (differentiable positions); options: plain Python values.
        """
        ctx = object.__new__(cls)
        out_data = cls.forward(ctx, *[t.array for t in inputs], **options)
        if type(out_data) is not np.ndarray:  # NumPy gives scalars for some 0-d results
            out_data = np.asarray(out_data)
        out = _new_tensor(Tensor)  # Tensor._wrap(out_data), inlined: this runs for every op
        out.array = out_data
        out.grad = out.grad_fn = None
        out.requires_grad = out._is_view = False
        out._version = [0]
        if _grad.enabled:
            for t in inputs:
                if t.requires_grad:  # at least one input needs a gradient: record the node
                    ctx.parents = inputs
                    # each input's node *now*: an in-place op may give the tensor a new one later
                    ctx.parent_nodes = tuple([t.grad_fn for t in inputs])
                    ctx.needs_input_grad = tuple([t.requires_grad for t in inputs])
                    if ctx.saved:  # remember versions, to catch in-place changes before backward
                        ctx.versions = tuple([t._version[0] for t in inputs])
                        for array in ctx.saved:
                            if array is out_data:
                                ctx.saved_output = out_data
                                ctx.out_version = out._version
                    out.grad_fn = ctx
                    out.requires_grad = True
                    break
        return out

    def __repr__(self):
        return f"<{type(self).__name__}Backward>"


Tensor = None  # set by quasar.tensor once the class exists (the two modules need each other)
_new_tensor = object.__new__


# ---------------------------------------------------------------- backward traversal


def _topological_order(root_node):
    """Nodes reachable from root_node, each after every node that uses it.

    Iterative depth-first search: a node is emitted once all its parents'
    nodes have been emitted, then the list is reversed. No recursion.
    """
    order, visited = [], {root_node}
    stack = [(root_node, iter(root_node.parent_nodes))]
    while stack:
        node, children = stack[-1]
        for child in children:
            if child is not None and child not in visited:
                visited.add(child)
                stack.append((child, iter(child.parent_nodes)))
                break
        else:
            stack.pop()
            order.append(node)
    order.reverse()
    return order


def run_backward(tensor, grad, retain_graph=False):
    """Accumulate d(tensor)/d(leaf) * grad into every leaf's ``.grad``.

    tensor: the output (its grad_fn is the root); grad: ndarray of its shape.
    """
    from . import backends

    root = tensor.grad_fn
    if root is None:
        raise RuntimeError(
            "backward: this tensor has no grad_fn: it does not require grad "
            "(or was made under no_grad / detached)"
        )
    if root.saved is None:
        raise RuntimeError(
            f"{type(root).__name__}: trying to backward through the graph a second time; "
            "pass retain_graph=True to the first backward() if you need this."
        )
    B = backends.current()
    grads = {root: grad}  # node -> summed dL/d(node's output)
    leaf_grads = {}  # leaf tensor -> summed dL/d(leaf)
    for node in _topological_order(root):
        g = grads.pop(node, None)
        if g is None:
            continue
        if node.saved is None:
            raise RuntimeError(
                f"{type(node).__name__}: trying to backward through the graph a second time; "
                "its saved values were freed. Pass retain_graph=True to the first backward()."
            )
        if node._hooks is not None:  # register_hook on the tensor this node made
            g = _run_grad_hooks(node._hooks, g)
        if node._retained is not None:
            kept = node._retained()
            if kept is not None:
                kept.grad = Tensor._wrap(g.copy() if kept.grad is None else kept.grad.array + g)
        input_grads = node.backward(node, g)
        if type(input_grads) is not tuple:
            input_grads = (input_grads,)
        for parent, child, needed, pg in zip(node.parents, node.parent_nodes, node.needs_input_grad, input_grads):
            if pg is None or not needed:
                continue
            if pg.shape != parent.array.shape:
                raise RuntimeError(
                    f"{type(node).__name__}.backward returned a gradient of shape {pg.shape} "
                    f"for an input of shape {parent.array.shape}"
                )
            if child is None:
                previous = leaf_grads.get(parent)
                leaf_grads[parent] = pg if previous is None else B.add(previous, pg)
            else:
                previous = grads.get(child)
                grads[child] = pg if previous is None else B.add(previous, pg)
        if not retain_graph:  # free what this node kept: saved arrays and its inputs
            node.saved = None  # (a second backward through it now raises)
            node.parents = ()
    _accumulate(leaf_grads, grad)


def _accumulate(leaf_grads, seed):
    """Add each leaf's summed gradient (ndarray) into its ``.grad``.

    Runs the leaf's gradient hooks first (they may replace the gradient) and
    its post-accumulate hooks once its ``.grad`` is final.
    """
    from . import backends

    B = backends.current()
    # Backward functions may hand the same array to several inputs (add passes
    # its gradient through): each leaf must own its .grad, so copy shared ones.
    stored = set()
    finished = []
    with _accumulate_lock:  # backwards in several threads may share a leaf: lose no update
        for leaf, g in leaf_grads.items():
            hooks = getattr(leaf, "_hooks", None)  # a slot left unset on leaves without hooks
            if hooks is not None and hooks.pre:
                g = _run_grad_hooks(hooks, g)
            if g.dtype != leaf.array.dtype:
                g = g.astype(leaf.array.dtype)
            elif leaf.grad is None and (id(g) in stored or g.base is not None or g is seed):
                g = g.copy()
            stored.add(id(g))
            if leaf.grad is None:
                leaf.grad = Tensor._wrap(g)
            else:
                leaf.grad = Tensor._wrap(B.add(leaf.grad.array, g))
            if hooks is not None and hooks.post:
                finished.append((leaf, hooks))
    for leaf, hooks in finished:  # outside the lock: a hook may start another backward
        for hook in list(hooks.post.values()):
            hook(leaf)
    _run_queued_callbacks()


class _Callbacks(threading.local):
    queued = None  # functions to call when the running backward ends (this thread)


_callbacks = _Callbacks()


def queue_callback(fn):
    """Call ``fn()`` once the backward now running in this thread has finished
    (PyTorch's ``Variable._execution_engine.queue_callback``; DDP waits for its
    all-reduces this way). Call it from a hook, during backward."""
    if _callbacks.queued is None:
        _callbacks.queued = []
    _callbacks.queued.append(fn)


def _run_queued_callbacks():
    while _callbacks.queued:
        fn = _callbacks.queued.pop(0)
        if not _callbacks.queued:
            _callbacks.queued = None
        fn()


_accumulate_lock = threading.Lock()


# ---------------------------------------------------------------- hooks


class Hooks:
    """The hooks of one tensor: ``pre`` run on its gradient, ``post`` after a
    leaf's ``.grad`` was accumulated. Each a dict id -> function, in order."""

    __slots__ = ("pre", "post")

    def __init__(self):
        self.pre, self.post = {}, {}


class RemovableHandle:
    """What ``register_hook`` returns: ``handle.remove()`` unregisters the hook."""

    _next_id = 0

    def __init__(self, table):
        self.table = table
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self):
        self.table.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _run_grad_hooks(hooks, g):
    """Call each gradient hook with the gradient as a Tensor; a hook that
    returns something replaces the gradient for the hooks after it and for backward."""
    for hook in list(hooks.pre.values()):
        as_tensor = Tensor._wrap(g) if type(g) is np.ndarray else g
        result = hook(as_tensor)
        if result is not None:
            if not isinstance(result, Tensor):
                raise TypeError(f"hook {hook!r} returned {type(result).__name__}; a hook must return a Tensor or None")
            if result.shape != as_tensor.shape:
                raise RuntimeError(
                    f"hook {hook!r} returned a gradient of shape {result.shape}, expected {as_tensor.shape}"
                )
            g = result.array if type(g) is np.ndarray else result
    return g
