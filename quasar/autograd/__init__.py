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
ctx object: a node holding what backward needs: the saved arrays, and for
each input its node (or, for a leaf, the tensor to accumulate into). A node
keeps no intermediate tensor alive: ``y = x @ w; out = tanh(y).sum(); del y``
frees y's array, since tanh's backward needs only its output.

Backward
--------
``run_backward`` finds the nodes without recursion (a loop over a growing
list), so a chain of 100,000 ops is fine, and runs them newest first (each
node is numbered as it is made, ``sequence_nr``: PyTorch's order), which is
always after every node that uses it; every gradient that reaches a node is
summed before its ``backward`` is called. A leaf's
``.grad`` is written (and its post-accumulate hooks run) as soon as the last
edge into it is done, while the walk goes on; callbacks queued with
``queue_callback`` run once it has ended.
``grad`` and ``backward`` (PyTorch's ``torch.autograd`` entry points) build on
it; ``inputs=`` limits the walk to the nodes that lead to those tensors.

Double backward (create_graph=True)
-----------------------------------
The backward formulas exist once. With ``create_graph=True`` each node's
``backward`` runs with Tensors: ``grad`` is a Tensor, ``ctx.saved_tensors``
gives the tensors the saved arrays came from (a saved input: that input,
rebuilt around the array with the input's node as grad_fn; the saved output:
a tensor whose grad_fn is the node), and ``backend()`` is
``quasar.backends.differentiable``, whose kernels are quasar's own ops. The
gradients it returns carry a graph, differentiable again. A node that kept
anything else (an intermediate computed in forward, a float array on ctx
that is not one of forward's options) replays its forward on the input
tensors first, on the same backend, so those values have a graph too.

What an op needs for double backward (tests/test_double_backward.py runs
gradgradcheck on every op-table entry):

* its backward calls kernels through ``backend()`` and otherwise only uses
  what ndarrays and Tensors share: ``.shape``, ``.ndim``, ``.dtype``,
  ``.reshape``, ``.T``, ``[key]``, arithmetic operators; for ``np.broadcast_to``,
  ``np.swapaxes`` and ``x.transpose(axes)`` it uses ``expand_to``,
  ``swap_last_two`` and ``permute_dims`` from ops/common.py; anything else
  (``np.zeros`` then ``out[key] = grad``, ``np.split``, ``float(grad)``) goes
  in an ``if isinstance(grad, Tensor):`` branch written with ops;
* every kernel it calls has a differentiable version in
  ``quasar/backends/differentiable.py`` (a new fused ``*_backward`` kernel
  gets one there, composed of ops: a few lines);
* values forward computes for backward are saved with ``save_for_backward``
  (or kept on ctx as arrays, not Python numbers, which would pass for
  constants), and so are the inputs needed to recompute them, so the replay
  can run: forward then uses only backend kernels and the shared methods too.

An op that breaks a rule raises "double backward (create_graph=True) is not
supported by this op" when differentiated twice, never a wrong number:
turning a tensor that requires grad into NumPy inside a backward formula
(``np.asarray``, ``.item()``) is caught, and so is a backward that returns
an ndarray.
"""

import functools
import itertools
import operator
import threading

import numpy as np

# ---------------------------------------------------------------- grad mode (per thread)

class _GradState(threading.local):
    enabled = True  # each thread starts with grad mode on
    inference = False  # inside inference_mode()


_grad = _GradState()


def is_grad_enabled():
    """True unless this thread is inside ``no_grad()``."""
    return _grad.enabled


def set_grad_enabled(mode):
    if not isinstance(mode, (bool, np.bool_)):
        raise TypeError(f"set_grad_enabled: argument 'mode' must be bool, not {type(mode).__name__}")
    _grad.enabled = bool(mode)


def is_inference_mode_enabled():
    """True inside ``inference_mode()`` in this thread."""
    return _grad.inference


class _GradMode:
    """Context manager and decorator that sets grad mode for the calling thread.

    Works as ``with no_grad():``, ``@no_grad()`` and bare ``@no_grad``.
    """

    mode = True

    def __new__(cls, fn=None):
        self = super().__new__(cls)
        if fn is None:
            return self
        if not callable(fn):
            raise TypeError(f"{cls.__name__}: expected a function to decorate, got {type(fn).__name__}")
        return self(fn)  # bare decorator: @no_grad

    def __enter__(self):
        self._saved = is_grad_enabled()
        set_grad_enabled(self.mode)
        return self

    def __exit__(self, *exc):
        set_grad_enabled(self._saved)
        return False

    def _fresh(self):
        return self.__class__()

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self._fresh():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """``with qs.no_grad():`` (or ``@qs.no_grad`` / ``@qs.no_grad()``): record no graph in this thread."""

    mode = False


class enable_grad(_GradMode):
    """Turn recording back on inside a ``no_grad`` block."""

    mode = True


class inference_mode(_GradMode):
    """PyTorch's ``inference_mode(mode=True)``: like ``no_grad`` (no graph is
    recorded), as a context manager or decorator (bare or called).
    ``inference_mode(False)`` changes nothing."""

    def __new__(cls, mode=True):
        self = object.__new__(cls)
        self.active = True if callable(mode) else bool(mode)
        return self(mode) if callable(mode) else self  # bare decorator: @inference_mode

    def __enter__(self):
        self._saved = is_grad_enabled(), _grad.inference
        if self.active:
            set_grad_enabled(False)
            _grad.inference = True
        return self

    def __exit__(self, *exc):
        set_grad_enabled(self._saved[0])
        _grad.inference = self._saved[1]
        return False

    def _fresh(self):
        return inference_mode(self.active)


# ---------------------------------------------------------------- Function


class Function:
    """Base class of every differentiable op; an instance is a graph node (ctx).

    Subclasses define ``forward(ctx, *arrays, **options) -> ndarray`` and
    ``backward(ctx, grad) -> gradient or tuple of gradients`` (one per tensor
    input, ``None`` where not needed; ``ctx.needs_input_grad[i]`` says which).
    """

    # A node is made for every op, so it is kept lean: the fields every node
    # sets are slots; the rare ones live in __dict__ with class defaults below.
    # parents: per input, its node (a Function), or the input tensor itself when it is a leaf
    __slots__ = ("parents", "needs_input_grad", "__dict__")

    saved = ()  # what forward saved for backward; None once backward freed it
    versions = ()  # per input (version counter, its value, id of the array), when forward saved something
    input_shapes = None  # the input shapes, recorded for user-defined Functions (backward's shapes are checked)
    saved_output = None  # forward's own result, when forward saved it (exp, tanh, ...)
    out_version = None  # the output's version counter, when forward saved its result
    _retained = None  # a weakref to the output, set by retain_grad()
    _hooks = None  # the output tensor's gradient hooks (register_hook on a non-leaf)
    forward_options = None  # forward's options, when it had some (double backward replays forward)

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
        for counter, then, array_id in self.versions:
            if counter[0] != then:  # an input changed in place: does this node need it?
                for array in saved:
                    if id(array) == array_id:  # (saved arrays outlive the check: ids stay unique)
                        self._modified(array.shape, counter[0], then)
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
        ctx = _new_object(cls)
        out_data = cls.forward(ctx, *[t.array for t in inputs], **options)
        if type(out_data) is not np.ndarray:
            out_data = _ndarray_result(ctx, out_data)
        out = _new_object(Tensor)  # Tensor._wrap(out_data), inlined: this runs for every op
        out.array = out_data
        out._grad = out.grad_fn = None  # the slot: .grad's setter validates
        out.requires_grad = out._is_view = False
        out._version = [0]
        if _grad.enabled:
            needs_input_grad = tuple([t.requires_grad for t in inputs])
            if True in needs_input_grad:  # at least one input needs a gradient: record the node
                # each input's node *now* (an in-place op may give the tensor a new one
                # later), or a leaf itself; never a non-leaf tensor, which may be freed
                ctx.parents = tuple([t.grad_fn or t for t in inputs])
                ctx.needs_input_grad = needs_input_grad
                ctx.sequence_nr = _next_sequence_nr()  # backward runs the nodes newest first
                if options:  # forward may be replayed on tensors for double backward
                    ctx.forward_options = options
                if ctx.saved:  # remember versions, to catch in-place changes before backward
                    ctx.versions = tuple([(t._version, t._version[0], id(t.array)) for t in inputs])
                    for array in ctx.saved:
                        if array is out_data:  # forward saved its result (exp, tanh, ...)
                            ctx.saved_output = out_data
                            ctx.out_version = out._version
                out.grad_fn = ctx
                out.requires_grad = True
        return out

    @classmethod
    def _apply_binary(cls, a, b):
        """``apply(a, b)`` for two tensors and no options, spelled out.

        The arithmetic operators (``x * y``, ``x + y``, ...) take this path,
        also on 16-element tensors, where the Python around the kernel is most
        of an op's cost; and Python 3.11 runs this, with a fixed number of
        arguments and no comprehensions or ``*inputs``, in about half the
        instructions of ``apply`` (measured with callgrind: 14k against 25k
        per mul). The steps are apply's, one for one.
        """
        ctx = _new_object(cls)
        out_data = cls.forward(ctx, a.array, b.array)
        if type(out_data) is not np.ndarray:
            out_data = _ndarray_result(ctx, out_data)
        out = _new_object(Tensor)
        out.array = out_data
        out._grad = out.grad_fn = None
        out.requires_grad = out._is_view = False
        out._version = [0]
        if _grad.enabled and (a.requires_grad or b.requires_grad):
            ctx.parents = (a.grad_fn or a, b.grad_fn or b)
            ctx.needs_input_grad = (a.requires_grad, b.requires_grad)
            ctx.sequence_nr = _next_sequence_nr()
            if ctx.saved:
                va, vb = a._version, b._version
                ctx.versions = ((va, va[0], id(a.array)), (vb, vb[0], id(b.array)))
                for array in ctx.saved:
                    if array is out_data:
                        ctx.saved_output = out_data
                        ctx.out_version = out._version
            out.grad_fn = ctx
            out.requires_grad = True
        return out

    def __repr__(self):
        return f"<{type(self).__name__}Backward>"

    def __init_subclass__(cls, **kwargs):
        """A Function defined outside quasar records its input shapes, so that
        backward can check the shapes of the gradients it returns (quasar's
        own ops are tested instead, keeping their nodes lean)."""
        super().__init_subclass__(**kwargs)
        forward = cls.__dict__.get("forward")
        if cls.__module__.startswith("quasar.") or not isinstance(forward, staticmethod):
            return
        user_forward = forward.__func__

        @functools.wraps(user_forward)
        def forward_recording_shapes(ctx, *arrays, **options):
            ctx.input_shapes = tuple([np.shape(a) for a in arrays])
            return user_forward(ctx, *arrays, **options)

        cls.forward = staticmethod(forward_recording_shapes)


Tensor = None  # set by quasar.tensor once the class exists (the two modules need each other)
_new_object = object.__new__
_sequence_nr_of = operator.attrgetter("sequence_nr")
_next_sequence_nr = itertools.count().__next__  # numbers the nodes in the order they are made


def _ndarray_result(ctx, scalar):
    """forward's result as a 0-d array where NumPy gave a scalar (some 0-d results);
    if forward saved it, the saved value becomes that array, as for any other result."""
    out_data = np.asarray(scalar)
    if ctx.saved:
        ctx.saved = tuple([out_data if a is scalar else a for a in ctx.saved])
    return out_data


# ---------------------------------------------------------------- backward traversal


def _topological_order(root_nodes, leaf_edges=None):
    """Nodes reachable from root_nodes, each after every node that uses it.

    An op's node is made after its inputs' nodes, so the nodes newest first
    (by ``sequence_nr``) are in such an order: PyTorch's order too. A walk
    over a growing list finds them (no recursion), then one sort orders them.
    leaf_edges: a dict to fill, on the same walk (it meets each edge once),
    with the number of edges into each leaf that needs a gradient (see
    ``_traverse``).
    """
    nodes = list(root_nodes)
    seen = set(nodes)
    count_leaves = leaf_edges is not None
    for node in nodes:  # (the loop also visits the nodes appended as it goes)
        for parent, needed in zip(node.parents, node.needs_input_grad):
            if isinstance(parent, Function):
                if parent not in seen:
                    seen.add(parent)
                    nodes.append(parent)
            elif needed and count_leaves:
                leaf_edges[parent] = leaf_edges.get(parent, 0) + 1
    nodes.sort(key=_sequence_nr_of, reverse=True)
    return nodes


def _freed(node):
    return RuntimeError(
        f"{type(node).__name__}: trying to backward through the graph a second time (or directly access "
        "saved tensors after they have already been freed); its saved values were freed. "
        "Pass retain_graph=True to the first backward() or autograd.grad() if you need this."
    )


def _nodes_toward(order, target_nodes, target_leaves):
    """The nodes of ``order`` whose backward can reach a target (a node, or a
    leaf among a node's parents): backward skips every other node. A freed
    node counts (its parents are gone): reaching it raises the clear error."""
    useful = set()
    for node in reversed(order):  # parents' nodes come before their users here
        if node in target_nodes or node.saved is None or any(
            parent in useful or parent in target_leaves for parent in node.parents
        ):
            useful.add(node)
    return useful


def run_backward(roots, seeds, retain_graph=False, create_graph=False, inputs=None):
    """The backward pass (see _traverse); callbacks queued by its hooks run when
    it ends, and a backward that fails part way drops them (they belong to it)."""
    try:
        return _traverse(roots, seeds, retain_graph, create_graph, inputs)
    except BaseException:
        _callbacks.queued = None
        raise


def _traverse(roots, seeds, retain_graph=False, create_graph=False, inputs=None):
    """The backward pass: d(roots)/d(everything) weighted by seeds.

    roots: tensors (each with a grad_fn, or a leaf that requires grad);
    seeds: dL/d(root) for each, ndarrays of the roots' shapes (Tensors when
    create_graph, so the gradients computed from them are differentiable).
    inputs: None accumulates into every reached leaf's ``.grad`` (each as
    soon as its gradient is final) and returns None; a sequence of tensors
    (leaves or not) returns their gradients (None where unreached) and
    touches no ``.grad``.

    With create_graph every node's backward runs on Tensors (see
    ``_differentiable_backward``), recording a graph of its own.
    """
    from .. import backends, ops

    add = ops.add if create_graph else backends.current().add
    grads = {}  # node -> summed dL/d(node's output)
    leaf_grads = {}  # leaf tensor -> summed dL/d(leaf)
    for root, seed in zip(roots, seeds):
        table, key = (leaf_grads, root) if root.grad_fn is None else (grads, root.grad_fn)
        table[key] = seed if key not in table else add(table[key], seed)
    # pending: for each leaf that needs a gradient, how many edges into it are
    # still to be done. backward counts each one down as it is done (a node
    # that got no gradient, or returned None for the leaf, counts too), so a
    # leaf's ``.grad`` and its post-accumulate hooks come as soon as its last
    # contribution arrives, while backward goes on (DistributedDataParallel
    # starts its all-reduces then, overlapping the rest of backward).
    # grad() and backward(inputs=) write no .grad and count nothing.
    pending = {} if inputs is None else None
    order = _topological_order(grads, pending)
    target_nodes = target_leaves = useful = None
    if inputs is not None:
        target_nodes = {t.grad_fn: None for t in inputs if t.grad_fn is not None}
        target_leaves = {t: None for t in inputs if t.grad_fn is None}
        useful = _nodes_toward(order, target_nodes, target_leaves)
    shared = None
    if inputs is None:
        shared = {id(seed): seed for seed in seeds}
    for node in order:
        g = grads.pop(node, None)
        if g is None:  # no gradient reached this node: its edges into leaves are done, empty
            if pending is not None:
                for parent, needed in zip(node.parents, node.needs_input_grad):
                    if needed and not isinstance(parent, Function):
                        pending[parent] -= 1
                        if not pending[parent] and parent in leaf_grads:
                            _accumulate_now(parent, leaf_grads.pop(parent), shared, create_graph, add)
            continue
        if node.saved is None:
            raise _freed(node)
        if node._hooks is not None:  # register_hook on the tensor this node made
            g = _run_grad_hooks(node._hooks, g)
        if node._retained is not None:
            kept = node._retained()
            if kept is not None:
                _retain(kept, g, create_graph)
        if useful is not None:
            if node in target_nodes:  # a non-leaf input of grad() / backward(inputs=)
                target_nodes[node] = g
            if node not in useful:
                continue
        if create_graph:
            input_grads = _differentiable_backward(node, g)
        else:
            input_grads = node.backward(node, g)
        if type(input_grads) is not tuple:
            input_grads = (input_grads,)
        if node.input_shapes is not None:  # a user-defined Function: check what it returned
            _check_shapes(node, input_grads)
        for parent, needed, pg in zip(node.parents, node.needs_input_grad, input_grads):
            if not needed:
                continue
            if isinstance(parent, Function):
                if pg is not None:
                    previous = grads.get(parent)
                    grads[parent] = pg if previous is None else add(previous, pg)
            elif pending is None:  # a leaf, for grad() / backward(inputs=): only the targets' are kept
                if pg is not None and parent in target_leaves:
                    previous = leaf_grads.get(parent)
                    leaf_grads[parent] = pg if previous is None else add(previous, pg)
            else:  # a leaf: its gradient is final once its last edge is done
                if pg is not None:
                    previous = leaf_grads.get(parent)
                    leaf_grads[parent] = pg if previous is None else add(previous, pg)
                    if pg is g:  # passed through (add): other nodes may still hold this array
                        shared[id(pg)] = pg
                left = pending[parent] - 1
                pending[parent] = left
                if not left and parent in leaf_grads:
                    _accumulate_now(parent, leaf_grads.pop(parent), shared, create_graph, add)
        if not retain_graph:  # free what this node kept: saved arrays, constant inputs, its options
            node.saved = None  # (a second backward through it now raises)
            if node.saved_output is not None:
                node.saved_output = None
            if node.forward_options is not None:
                node.forward_options = None
            # the structure (parent nodes, leaves that need grad) stays, as in PyTorch:
            # graph pictures and hooks still see it; a constant input (data) is let go
            for p in node.parents:
                if type(p) is Tensor and not p.requires_grad:
                    node.parents = tuple([None if type(p) is Tensor and not p.requires_grad else p for p in node.parents])
                    break
    if inputs is None:  # left: roots that are leaves, used nowhere in the graph
        _accumulate(leaf_grads, seeds, create_graph, shared)
        return None
    return [
        (target_nodes.get(t.grad_fn) if t.grad_fn is not None else leaf_grads.get(t)) for t in inputs
    ]


def _check_shapes(node, input_grads):
    for i, (shape, needed, pg) in enumerate(zip(node.input_shapes, node.needs_input_grad, input_grads)):
        if pg is not None and needed and tuple(pg.shape) != tuple(shape):
            raise RuntimeError(
                f"{type(node).__name__}.backward returned a gradient of shape {tuple(pg.shape)} "
                f"for input {i} of shape {tuple(shape)}"
            )


def _retain(kept, g, create_graph):
    """retain_grad(): add this backward's gradient into a non-leaf's ``.grad``."""
    if create_graph:
        kept.grad = g if kept.grad is None else kept.grad + g
    else:
        kept.grad = Tensor._wrap(g.copy() if kept.grad is None else kept.grad.array + g)


def _accumulate_now(leaf, g, shared, create_graph, add):
    """Accumulate one leaf whose gradient is final, during backward; then its
    post-accumulate hooks (the callbacks queued wait for the end of backward)."""
    post = _accumulate_leaf(leaf, g, shared, create_graph, add)
    if post:
        for hook in list(post.values()):
            hook(leaf)


def _owned_copy(g):
    """g copied by the current backend's ``copy`` kernel: a large copy takes a
    cached buffer (quasar.buffers), not fresh pages that fault on first touch
    (2 x 4 MB copies: 1,900 page faults, ~4 ms on the development VM)."""
    from .. import backends

    return backends.current().copy(g)


def _accumulate_leaf(leaf, g, shared, create_graph, add):
    """Add one leaf's gradient into its ``.grad``, after its gradient hooks
    (which may replace it). Returns its post-accumulate hooks (a dict), for
    the caller to run outside the lock.

    shared: id -> array of the arrays that something else may still hold
    (the seeds, gradients passed through unchanged, other leaves' ``.grad``):
    a leaf's ``.grad`` must own its memory, so those are copied. This adds
    the array it stores.
    """
    hooks = getattr(leaf, "_hooks", None)  # a slot left unset on leaves without hooks
    with _accumulate_lock:  # backwards in several threads may share a leaf: lose no update
        if hooks is not None and hooks.pre:
            g = _run_grad_hooks(hooks, g)
        if create_graph:
            g = g.to(leaf.array.dtype)
            leaf.grad = g if leaf.grad is None else leaf.grad + g
        elif leaf.grad is None:
            if g.dtype != leaf.array.dtype:
                g = g.astype(leaf.array.dtype)
            elif id(g) in shared or g.base is not None:
                g = _owned_copy(g)
            shared[id(g)] = g
            leaf.grad = Tensor._wrap(g)
        else:
            leaf.grad = Tensor._wrap(add(leaf.grad.array, g.astype(leaf.array.dtype, copy=False)))
    return hooks.post if hooks is not None else None


def _accumulate(leaf_grads, seeds, create_graph=False, shared=None):
    """Add each leaf's summed gradient into its ``.grad``, then run their
    post-accumulate hooks and the callbacks queued during backward.

    Gradients are ndarrays, or Tensors with a graph when create_graph.
    shared: as for ``_accumulate_leaf`` (default: the seeds).
    """
    from .. import backends

    add = backends.current().add
    # Backward functions may hand the same array to several inputs (add passes
    # its gradient through): each leaf must own its .grad, so copy shared ones.
    if shared is None:
        shared = {id(seed): seed for seed in seeds}
    finished = []
    for leaf, g in leaf_grads.items():
        post = _accumulate_leaf(leaf, g, shared, create_graph, add)
        if post:
            finished.append((leaf, post))
    for leaf, post in finished:  # outside the lock: a hook may start another backward
        for hook in list(post.values()):
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


# ---------------------------------------------------------------- double backward
# With create_graph=True a node's backward formula runs again, on Tensors:
# the gradient it receives is a Tensor, its saved arrays are swapped for the
# tensors they came from, and every kernel it calls is one of quasar's own
# differentiable ops (quasar/backends/differentiable.py). What it returns then
# has a graph of its own, which a later backward differentiates.

_BOOKKEEPING = frozenset(
    ("saved", "versions", "saved_output", "out_version", "_retained", "_hooks", "forward_options", "input_shapes")
)


def _differentiable_backward(node, g):
    """node.backward(ctx, g) with g a Tensor, recording a graph; returns a tuple of Tensors/None."""
    from ..backends import differentiable

    name = type(node).__name__
    try:
        ctx = _tensor_ctx(node)
        with differentiable.active():
            result = ctx.backward(ctx, g)
    except differentiable.NotDifferentiable as exc:
        raise RuntimeError(
            f"{name}: double backward (create_graph=True) is not supported by this op: {exc}"
        ) from None
    result = result if type(result) is tuple else (result,)
    for r in result:
        if r is not None and not isinstance(r, Tensor):
            raise RuntimeError(
                f"{name}: double backward (create_graph=True) is not supported: its backward returned "
                f"a {type(r).__name__}, not a Tensor. A custom Function supports it when its backward "
                "computes with tensor operations (in create_graph mode it receives Tensors)."
            )
    return result


def _float_arrays(ctx, options):
    """Names of float ndarrays forward put on ctx that are not constants it was
    given (an option, such as dropout's mask): values that depend on the inputs."""
    constants = {id(v) for v in options.values()}

    def depends_on_inputs(value):  # a float array, or a tuple/list holding one (ctx.stats = mean, var)
        if isinstance(value, (tuple, list)):
            return any(depends_on_inputs(v) for v in value)
        return _is_float_array(value) and id(value) not in constants

    return [key for key, value in ctx.__dict__.items() if key not in _BOOKKEEPING and depends_on_inputs(value)]


def _is_float_array(value):
    return isinstance(value, (np.ndarray, np.generic)) and value.dtype.kind == "f"


def _input_tensors(node, saved):
    """The tensors forward received, as far as backward still has them: a leaf
    is kept by the node; a non-leaf input is rebuilt from its saved array (a
    tensor whose grad_fn is the input's node). None where it was not saved.
    Also says whether two different inputs shared one array (x and x.detach()):
    a saved array then cannot be told apart by identity."""
    inputs = [None if isinstance(p, Function) else p for p in node.parents]
    saved_by_id = {id(a): a for a in saved if _is_float_array(a)}
    owners = {}
    rebuilt = {}  # one tensor per parent node
    for i, (parent, (counter, _, array_id)) in enumerate(zip(node.parents, node.versions)):
        owners.setdefault(array_id, set()).add(id(parent))
        if inputs[i] is None and array_id in saved_by_id:
            if parent not in rebuilt:
                t = Tensor._wrap(saved_by_id[array_id], counter)
                t.grad_fn, t.requires_grad = parent, True
                rebuilt[parent] = t
            inputs[i] = rebuilt[parent]
    shared = any(len(o) > 1 for o in owners.values())
    return inputs, {array_id: i for i, (_, _, array_id) in enumerate(node.versions)}, shared


def _tensor_ctx(node):
    """A stand-in for ``node`` whose saved values are Tensors tied to the graph.

    A saved input becomes that input's tensor (a leaf, or rebuilt around the
    saved array with the input's node as grad_fn); the saved output becomes a
    tensor whose grad_fn is the node itself. Anything else forward kept (an
    intermediate such as cross-entropy's logsumexp, a float array on ctx)
    depends on the inputs in a way only forward knows: forward is then
    replayed on the input tensors, on the differentiable backend, so those
    values are recomputed as tensors with a graph.
    """
    from ..backends import differentiable

    saved = node.saved_tensors  # raises if freed or changed in place
    inputs, position, shared = _input_tensors(node, saved)
    mapped, replay = [], shared
    for array in saved:
        if replay:
            break
        if not _is_float_array(array):
            mapped.append(array)  # None, a Python value, integer indices: constants
        elif id(array) in position and inputs[position[id(array)]] is not None:
            mapped.append(inputs[position[id(array)]])
        elif array is node.saved_output:
            out = Tensor._wrap(array, node.out_version)
            out.grad_fn, out.requires_grad = node, True
            mapped.append(out)
        else:
            replay = True
    options = node.__dict__.get("forward_options") or {}
    replay = replay or bool(_float_arrays(node, options))
    cls = type(node)
    ctx = object.__new__(cls)
    if replay:
        missing = [i for i, t in enumerate(inputs) if t is None]
        if missing:
            raise differentiable.NotDifferentiable(
                f"its backward needs values computed in forward, and input {missing[0]} was not saved "
                "to recompute them (save the inputs with ctx.save_for_backward)"
            )
        try:
            with differentiable.active():
                cls.forward(ctx, *inputs, **options)
        except (TypeError, AttributeError, ValueError) as exc:
            raise differentiable.NotDifferentiable(f"its forward could not be replayed on tensors ({exc})") from None
        leftover = _float_arrays(ctx, options)
        if any(_is_float_array(a) for a in ctx.saved) or leftover:
            raise differentiable.NotDifferentiable(
                "its forward, replayed on tensors, still keeps arrays for backward "
                f"({', '.join(leftover) or 'saved values'})"
            )
    else:
        ctx.__dict__.update(node.__dict__)
        ctx.saved = tuple(mapped)
    ctx.parents, ctx.needs_input_grad = node.parents, node.needs_input_grad
    ctx.versions, ctx.out_version = (), None  # checked above, on the node itself
    return ctx


# ---------------------------------------------------------------- the public entry points


def _as_tuple(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _seeds(op, outputs, grad_outputs, create_graph):
    """The gradients to start from, one per output: given ones checked, else ones for one-element outputs."""
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    grad_outputs = _as_tuple(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"{op}: got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    seeds = []
    for i, (out, given) in enumerate(zip(outputs, grad_outputs)):
        if given is None:
            if out.array.size != 1:
                raise RuntimeError(
                    f"{op}: grad can be implicitly created only for scalar outputs; output {i} has "
                    f"shape {out.shape}, pass a gradient of that shape"
                )
            seed = np.ones(out.array.shape, dtype=out.array.dtype)
            seeds.append(Tensor._wrap(seed) if create_graph else seed)
            continue
        if isinstance(given, Tensor):
            array = given.array
        else:
            array = np.asarray(given)
            if array.dtype.kind not in "fiub":
                # PyTorch: RuntimeError for a complex gradient of a real output (TypeError for text)
                raise (RuntimeError if array.dtype.kind == "c" else TypeError)(
                    f"{op}: the gradient for output {i} must be real numbers, got dtype {array.dtype}"
                )
        if array.shape != out.array.shape:
            raise RuntimeError(
                f"{op}: the gradient for output {i} has shape {array.shape} but the output has shape {out.shape}"
            )
        if create_graph:  # a gradient that requires grad is differentiated through too
            t = given if isinstance(given, Tensor) else Tensor._wrap(array)
            seeds.append(t.to(out.array.dtype) if t.array.dtype != out.array.dtype else t)
        else:
            seeds.append(array.astype(out.array.dtype, copy=False))
    return seeds


def _check_outputs(op, outputs):
    for i, out in enumerate(outputs):
        if not isinstance(out, Tensor):
            raise TypeError(f"{op}: outputs must be Tensors, got {type(out).__name__}")
        if not out.requires_grad:
            raise RuntimeError(f"{op}: element {i} of tensors does not require grad and does not have a grad_fn")


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """``torch.autograd.backward``: accumulate d(tensors)/d(leaves) into ``.grad``.

    tensors: a tensor or a sequence of them; grad_tensors: their gradients
    (may be omitted for one-element tensors); retain_graph defaults to
    create_graph; inputs: if given, only these tensors (leaves or not) get
    ``.grad``.
    """
    outputs = _as_tuple(tensors)
    _check_outputs("backward", outputs)
    seeds = _seeds("backward", outputs, grad_tensors, create_graph)
    if retain_graph is None:
        retain_graph = create_graph
    with enable_grad() if create_graph else no_grad():
        if inputs is None:
            run_backward(outputs, seeds, retain_graph, create_graph)
            return
        inputs = _check_inputs("backward", inputs)
        grads = run_backward(outputs, seeds, retain_graph, create_graph, inputs)
        found = {}
        for t, g in zip(inputs, grads):
            if g is not None:
                found[t] = g
        _accumulate(found, seeds, create_graph)


def _check_inputs(op, inputs):
    inputs = _as_tuple(inputs)
    if not inputs:
        raise RuntimeError(f"{op}: inputs cannot be empty")
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: inputs must be Tensors, got {type(t).__name__} at position {i}")
        if not t.requires_grad:
            raise RuntimeError(f"{op}: one of the differentiated Tensors (input {i}, shape {t.shape}) does not require grad")
    return inputs


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False,
         materialize_grads=False):
    """``torch.autograd.grad``: the gradients of outputs with respect to inputs.

    outputs: a tensor or a sequence (each a scalar, or weighted by
    grad_outputs); inputs: a tensor or a sequence of tensors that require
    grad (leaves or not). Returns a tuple with one gradient per input and
    touches no ``.grad``. With create_graph=True the gradients have a graph
    of their own, so they can be differentiated again (to any order).
    retain_graph defaults to create_graph. An input the outputs do not
    depend on is an error unless allow_unused (its gradient is then None,
    or zeros with materialize_grads).
    """
    outputs = _as_tuple(outputs)
    _check_outputs("grad", outputs)
    inputs = _check_inputs("grad", inputs)
    seeds = _seeds("grad", outputs, grad_outputs, create_graph)
    if retain_graph is None:
        retain_graph = create_graph
    with enable_grad() if create_graph else no_grad():
        found = run_backward(outputs, seeds, retain_graph, create_graph, inputs)
    result, given_out = [], {id(s) for s in seeds}  # arrays a result must not share
    for i, (t, g) in enumerate(zip(inputs, found)):
        if g is None:
            if not (allow_unused or materialize_grads):
                raise RuntimeError(
                    f"grad: one of the differentiated Tensors (input {i}, shape {t.shape}) appears to not "
                    "have been used in the graph. Set allow_unused=True if this is the desired behavior."
                )
            if materialize_grads:
                result.append(Tensor._wrap(np.zeros(t.array.shape, t.array.dtype)))
            else:
                result.append(None)
        elif create_graph:
            result.append(g)
        else:
            # backward may hand one array to several inputs (add passes its gradient through),
            # or hand back the seed or a view: each result owns its memory
            if g.base is not None or id(g) in given_out:
                g = _owned_copy(g)
            given_out.add(id(g))
            result.append(Tensor._wrap(g))
    return tuple(result)


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


def __getattr__(name):
    """``qs.autograd.gradcheck`` / ``gradgradcheck`` (PyTorch's spelling), loaded on
    first use: quasar.gradcheck builds on the Tensor class, which needs this module."""
    if name in ("gradcheck", "gradgradcheck"):
        import importlib

        return getattr(importlib.import_module("quasar.gradcheck"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
