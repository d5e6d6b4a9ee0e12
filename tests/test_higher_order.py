"""Gradients of gradients: create_graph, autograd.grad, autograd.functional,
custom Functions, and PyTorch's errors for bad calls."""

import numpy as np
import pytest

import quasar as qs
from quasar import backends
from quasar.autograd import functional as F

RNG = np.random.default_rng(0)


def leaf(*shape, seed=0):
    return qs.tensor(np.random.default_rng(seed).standard_normal(shape), dtype=qs.float64, requires_grad=True)


# ---------------------------------------------------------------- grad and backward semantics


def test_grad_of_grad_to_third_order():
    x = leaf(4)
    (g,) = qs.autograd.grad((x**4).sum(), x, create_graph=True)
    (h,) = qs.autograd.grad(g.sum(), x, create_graph=True)
    (t,) = qs.autograd.grad(h.sum(), x)
    xs = x.detach().numpy()
    np.testing.assert_allclose(g.detach().numpy(), 4 * xs**3)
    np.testing.assert_allclose(h.detach().numpy(), 12 * xs**2)
    np.testing.assert_allclose(t.numpy(), 24 * xs)
    assert x.grad is None  # grad() touches no .grad


def test_backward_create_graph_makes_grad_differentiable():
    x = leaf(3)
    (x.sin().sum()).backward(create_graph=True)
    assert x.grad.requires_grad
    first = x.grad
    x.grad = None
    first.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), -np.sin(x.detach().numpy()))


def test_create_graph_retains_the_graph_by_default():
    x = leaf(3)
    y = (x * x).sum()
    qs.autograd.grad(y, x, create_graph=True)
    qs.autograd.grad(y, x)  # still there; this one (retain_graph=False) frees it
    with pytest.raises(RuntimeError, match="second time"):
        qs.autograd.grad(y, x)


def test_retain_graph_false_with_create_graph_frees():
    x = leaf(3)
    y = x.exp().sum()
    (g,) = qs.autograd.grad(y, x, create_graph=True, retain_graph=False)
    with pytest.raises(RuntimeError, match="second time"):
        qs.autograd.grad(g.sum(), x)  # g's graph runs through y's freed Exp node


def test_allow_unused():
    x, z = leaf(2), leaf(2, seed=1)
    y = (x * 2).sum()
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        qs.autograd.grad(y, [x, z], retain_graph=True)
    gx, gz = qs.autograd.grad(y, [x, z], allow_unused=True)
    assert gz is None
    np.testing.assert_array_equal(gx.numpy(), [2, 2])
    _, gz = qs.autograd.grad((x * 2).sum(), [x, z], materialize_grads=True)
    np.testing.assert_array_equal(gz.numpy(), [0, 0])


def test_non_leaf_inputs():
    x = leaf(3)
    h = x * 3
    y = (h * h).sum()
    gh, gx = qs.autograd.grad(y, [h, x], create_graph=True)
    np.testing.assert_allclose(gh.detach().numpy(), 2 * h.detach().numpy())
    np.testing.assert_allclose(gx.detach().numpy(), 18 * x.detach().numpy())
    (ggx,) = qs.autograd.grad(gh.sum(), x)  # d/dx sum(2 * 3x) = 6
    np.testing.assert_allclose(ggx.numpy(), [6, 6, 6])


def test_backward_inputs_accumulates_only_there():
    x, w = leaf(3), leaf(3, seed=1)
    h = x * w
    h.retain_grad()
    (h * h).sum().backward(inputs=[w])
    assert x.grad is None
    np.testing.assert_allclose(w.grad.numpy(), 2 * (x * w * x).detach().numpy())
    z = x * w
    (z * 2).sum().backward(inputs=[z])  # a non-leaf gets .grad too
    np.testing.assert_array_equal(z.grad.numpy(), [2, 2, 2])


def test_several_outputs_with_grad_outputs():
    x = leaf(3)
    a, b = x * 2, x.exp()
    v = qs.tensor(np.array([1.0, 2.0, 3.0]), dtype=qs.float64)
    (g,) = qs.autograd.grad([a, b], x, grad_outputs=[v, v])
    np.testing.assert_allclose(g.numpy(), 2 * v.numpy() + v.numpy() * np.exp(x.detach().numpy()))


def test_hooks_see_tensors_with_a_graph():
    x = leaf(3)
    y = x * x
    handle = y.register_hook(lambda g: g * y)  # a hook that itself depends on x
    (g,) = qs.autograd.grad(y.sum(), x, create_graph=True)  # g = 2x * x^2 = 2x^3
    handle.remove()  # (it would run again on the way through y, as in PyTorch)
    (h,) = qs.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), 6 * x.detach().numpy() ** 2)


# ---------------------------------------------------------------- bad input, as PyTorch


def test_grad_of_non_scalar_needs_grad_outputs():
    x = leaf(3)
    with pytest.raises(RuntimeError, match="only for scalar outputs"):
        qs.autograd.grad(x * 2, x)
    with pytest.raises(RuntimeError, match=r"has shape \(2,\) but the output has shape \(3,\)"):
        qs.autograd.grad(x * 2, x, grad_outputs=qs.ones(2, dtype=qs.float64))


def test_inputs_must_require_grad():
    x = leaf(3)
    c = qs.tensor([1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError, match="does not require grad"):
        qs.autograd.grad((x * c).sum(), c)
    with pytest.raises(RuntimeError, match="does not require grad"):
        qs.autograd.grad(c.sum(), x)  # the output has no graph
    with pytest.raises(TypeError, match="inputs must be Tensors"):
        qs.autograd.grad((x * 2).sum(), [np.ones(3)])


def test_second_backward_through_freed_graph():
    x = leaf(3)
    y = (x.tanh() * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        qs.autograd.grad(y, x)


# ---------------------------------------------------------------- custom Functions


class Cube(qs.Function):
    """Backward written with tensor operations: works on arrays and on Tensors."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 3 * x**2


class NumpySin(qs.Function):
    """Backward calls NumPy on what it receives: first order only."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.sin(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * np.cos(x)


def test_custom_function_with_tensor_backward_supports_double_backward():
    x = leaf(4)
    assert qs.autograd.gradgradcheck(Cube.apply, [x])
    (g,) = qs.autograd.grad(Cube.apply(x).sum(), x, create_graph=True)
    (h,) = qs.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), 6 * x.detach().numpy())


def test_custom_function_with_numpy_backward_says_it_has_no_double_backward():
    x = leaf(4)
    assert qs.autograd.gradcheck(NumpySin.apply, [x])  # first order is fine
    with pytest.raises(RuntimeError, match="NumpySin: double backward .* not supported"):
        qs.autograd.grad(NumpySin.apply(x).sum(), x, create_graph=True)


class FusedSquare(qs.Function):
    """Backward through a kernel the differentiable backend does not have."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return backends.current().square_backward(x, grad)


def test_kernel_without_differentiable_version_raises_clearly():
    x = leaf(3)
    with pytest.raises(RuntimeError, match="FusedSquare: double backward .* 'square_backward' has no differentiable"):
        qs.autograd.grad(FusedSquare.apply(x).sum(), x, create_graph=True)


def test_prod_double_backward_with_zeros():
    x = qs.tensor(np.array([[2.0, 0.0, 3.0], [1.0, 4.0, 0.5]]), dtype=qs.float64, requires_grad=True)
    assert qs.autograd.gradgradcheck(lambda t: t.prod(dim=1), [x])


# ---------------------------------------------------------------- autograd.functional


def cubic(x):
    return (x**3).sum() + (x[0] * x[1])


def test_jacobian_vjp_jvp():
    x = qs.tensor(np.array([0.5, -1.0, 2.0]), dtype=qs.float64)
    A = np.array([[1.0, 2.0, 0.0], [0.0, -1.0, 3.0]])
    f = lambda t: qs.tensor(A) @ t.sin()  # noqa: E731
    J = A * np.cos(x.numpy())[None, :]
    np.testing.assert_allclose(F.jacobian(f, x).numpy(), J)
    u, v = np.array([1.0, -2.0]), np.array([0.3, 0.1, -0.2])
    out, vj = F.vjp(f, x, qs.tensor(u))
    np.testing.assert_allclose(out.numpy(), A @ np.sin(x.numpy()))
    np.testing.assert_allclose(vj.numpy(), u @ J)
    _, jv = F.jvp(f, x, qs.tensor(v))
    np.testing.assert_allclose(jv.numpy(), J @ v)
    assert not vj.requires_grad and not jv.requires_grad


def test_jacobian_of_tuples():
    a, b = qs.tensor([1.0, 2.0], dtype=qs.float64), qs.tensor([3.0], dtype=qs.float64)
    (ja, jb), (ka, kb) = F.jacobian(lambda a, b: (a * b, a.sum() * 2), (a, b))
    np.testing.assert_allclose(ja.numpy(), np.diag([3.0, 3.0]))
    np.testing.assert_allclose(jb.numpy(), [[1.0], [2.0]])
    np.testing.assert_allclose(ka.numpy(), [2.0, 2.0])
    np.testing.assert_allclose(kb.numpy(), [0.0])


def test_hessian_hvp_vhp():
    x = qs.tensor(np.array([0.5, -1.0, 2.0]), dtype=qs.float64)
    xs = x.numpy()
    H = np.diag(6 * xs)
    H[0, 1] = H[1, 0] = 1
    np.testing.assert_allclose(F.hessian(cubic, x).numpy(), H)
    v = np.array([1.0, 2.0, -1.0])
    for product in (F.hvp, F.vhp):
        value, hv = product(cubic, x, qs.tensor(v))
        np.testing.assert_allclose(value.item(), np.sum(xs**3) + xs[0] * xs[1])
        np.testing.assert_allclose(hv.numpy(), H @ v)


def test_strict_and_vectorize():
    x = qs.tensor([1.0, 2.0], dtype=qs.float64)
    np.testing.assert_array_equal(F.jacobian(lambda t: qs.ones(3), x).numpy(), np.zeros((3, 2)))
    with pytest.raises(RuntimeError, match="independent of input 0"):
        F.jacobian(lambda t: qs.ones(3) + t.detach().sum(), x, strict=True)
    with pytest.raises(NotImplementedError, match="vectorize"):
        F.jacobian(lambda t: t * 2, x, vectorize=True)
    with pytest.raises(RuntimeError, match="single element"):
        F.hessian(lambda t: t * 2, x)
    with pytest.raises(RuntimeError, match="v can only be None"):
        F.vjp(lambda t: t * 2, x)


def test_functional_create_graph_keeps_the_graph():
    x = leaf(3)
    h = F.hessian(cubic, x, create_graph=True)
    assert h.requires_grad
    (g,) = qs.autograd.grad(h.sum(), x)  # d/dx trace-ish sum of 6x on the diagonal
    np.testing.assert_allclose(g.numpy(), [6, 6, 6])


def mlp_loss(w1, b1, w2):
    x = qs.tensor(np.linspace(-1, 1, 10).reshape(5, 2), dtype=qs.float64)
    y = qs.tensor(np.array([[0.5], [-0.2], [0.1], [0.3], [-0.4]]), dtype=qs.float64)
    hidden = qs.nn.functional.linear(x, w1, b1).tanh()
    return qs.nn.functional.mse_loss(hidden @ w2, y)


def test_hessian_of_an_mlp_loss_matches_finite_differences():
    rng = np.random.default_rng(3)
    params = [qs.tensor(rng.standard_normal(s) * 0.7, dtype=qs.float64) for s in [(3, 2), (3,), (3, 1)]]
    blocks = F.hessian(mlp_loss, tuple(params))
    sizes = [p.numel() for p in params]
    n = sum(sizes)
    H = np.block([[blocks[i][j].numpy().reshape(sizes[i], sizes[j]) for j in range(3)] for i in range(3)])

    def gradient(flat):
        pieces, start = [], 0
        for p, k in zip(params, sizes):
            pieces.append(qs.tensor(flat[start : start + k].reshape(p.shape), requires_grad=True))
            start += k
        grads = qs.autograd.grad(mlp_loss(*pieces), pieces)
        return np.concatenate([g.numpy().ravel() for g in grads])

    flat = np.concatenate([p.numpy().ravel() for p in params])
    eps = 1e-6
    numerical = np.empty((n, n))
    for k in range(n):
        step = np.zeros(n)
        step[k] = eps
        numerical[:, k] = (gradient(flat + step) - gradient(flat - step)) / (2 * eps)
    np.testing.assert_allclose(H, numerical, atol=1e-6)
    np.testing.assert_allclose(H, H.T, atol=1e-12)


def test_gradient_penalty_training():
    # WGAN-GP style: a critic D whose input-gradient norm is pushed towards 1
    qs.manual_seed(0)
    critic = qs.nn.Sequential(qs.nn.Linear(2, 16), qs.nn.Tanh(), qs.nn.Linear(16, 1))
    opt = qs.optim.Adam(critic.parameters(), lr=0.02)
    points = qs.tensor(np.random.default_rng(1).standard_normal((32, 2)).astype(np.float32))
    penalties = []
    for _ in range(25):
        x = points.detach().requires_grad_(True)
        (dx,) = qs.autograd.grad(critic(x).sum(), x, create_graph=True)
        penalty = ((dx.norm(dim=1) - 1) ** 2).mean()
        opt.zero_grad()
        penalty.backward()
        assert all(p.grad is not None and np.abs(p.grad.numpy()).sum() > 0 for p in critic.parameters()
                   if p.ndim == 2)
        opt.step()
        penalties.append(penalty.item())
    assert penalties[-1] < 0.1 * penalties[0]


def test_results_never_share_memory():
    a, b = leaf(3), leaf(3, seed=1)
    ga, gb = qs.autograd.grad((a + b).sum(), [a, b])  # add hands one array to both
    ga.zero_()
    np.testing.assert_array_equal(gb.numpy(), [1, 1, 1])


def test_complex_gradient_is_refused():
    x = leaf(2)
    with pytest.raises(RuntimeError, match="real gradient"):  # PyTorch raises RuntimeError too
        (x * 2).backward(np.array([1 + 1j, 2.0]))
    with pytest.raises(RuntimeError, match="real numbers"):
        qs.autograd.grad(x * 2, x, grad_outputs=np.array([1 + 1j, 2.0]))


class Normalize(qs.Function):
    """x / |x|, keeping the norm on ctx inside a tuple: an intermediate, recomputed by replay."""

    @staticmethod
    def forward(ctx, x):
        norm = (x * x).sum() ** 0.5
        ctx.save_for_backward(x)
        ctx.stats = (norm,)
        return x / norm

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        (norm,) = ctx.stats
        return grad / norm - x * ((grad * x).sum() / norm**3)


def test_custom_function_intermediate_on_ctx_is_recomputed():
    x = leaf(4)
    assert qs.autograd.gradgradcheck(Normalize.apply, [x])
