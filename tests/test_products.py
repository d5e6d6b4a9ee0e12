"""einsum, tensordot, addmm and baddbmm (part C): values against NumPy and
errors. Gradients are in the op table (tests/optable_select.py)."""

import numpy as np
import pytest

import quasar as qs

EQUATIONS = [
    ("ii->i", [(3, 3)]), ("ii", [(3, 3)]), ("ij->", [(2, 3)]), ("ij->ji", [(2, 3)]), ("ij", [(2, 3)]),
    ("ji", [(2, 3)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]), ("...ij,...jk", [(2, 3, 4), (4, 5)]),
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]), ("i,j->ij", [(3,), (4,)]), ("i,i", [(3,), (3,)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]), ("iij->j", [(2, 2, 3)]), ("ijk,jil->kl", [(2, 3, 4), (3, 2, 5)]),
    ("i...->...", [(2, 3, 4)]), ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)]), ("iji->j", [(2, 3, 2)]),
    ("ab,ab,ab->a", [(2, 3), (2, 3), (2, 3)]), ("ij,kl->", [(2, 3), (4, 5)]), ("a,->a", [(3,), ()]),
    ("Ab,bC->AC", [(2, 3), (3, 4)]), ("i,i->i", [(3,), (3,)]),
]


@pytest.mark.parametrize("equation, shapes", EQUATIONS, ids=[e for e, _ in EQUATIONS])
def test_einsum_matches_numpy(equation, shapes):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in shapes]
    got = qs.einsum(equation, *[qs.tensor(a) for a in arrays])
    np.testing.assert_allclose(got.numpy(), np.einsum(equation, *arrays), rtol=1e-10, atol=1e-12)


def test_einsum_takes_a_list_and_promotes():
    a, b = qs.ones(2, 3), qs.ones(3, dtype=qs.float64)
    out = qs.einsum("ij,j->i", [a, b])
    assert out.dtype == qs.float64 and out.tolist() == [3.0, 3.0]


def test_einsum_errors():
    a = qs.ones(2, 3)
    with pytest.raises(ValueError, match="names 2 operands, but 1"):
        qs.einsum("ij,jk", a)
    with pytest.raises(ValueError, match="don't fit its 2 dims"):
        qs.einsum("ijk", a)
    with pytest.raises(ValueError, match="subscript 'j' has size 2"):
        qs.einsum("ij,jk", a, qs.ones(2, 2))
    with pytest.raises(ValueError, match="output subscript 'k'"):
        qs.einsum("ij->k", a)
    with pytest.raises(ValueError, match="repeats a subscript"):
        qs.einsum("ij->ii", a)
    with pytest.raises(ValueError, match="invalid subscripts"):
        qs.einsum("i1", a)
    with pytest.raises(TypeError, match="einsum: expected a float32/float64"):
        qs.einsum("i", qs.tensor([1, 2]))


def test_tensordot_matches_numpy():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((3, 4, 5)), rng.standard_normal((4, 5, 2))
    np.testing.assert_allclose(qs.tensordot(qs.tensor(a), qs.tensor(b)).numpy(), np.tensordot(a, b))
    np.testing.assert_allclose(qs.tensordot(qs.tensor(a), qs.tensor(b), dims=0).numpy(), np.tensordot(a, b, 0))
    c = rng.standard_normal((5, 2, 3))
    np.testing.assert_allclose(qs.tensordot(qs.tensor(a), qs.tensor(c), ([0, 2], [2, 0])).numpy(),
                               np.tensordot(a, c, ([0, 2], [2, 0])))
    with pytest.raises(ValueError, match="tensordot: dim 0 of a"):
        qs.tensordot(qs.tensor(a), qs.tensor(c), ([0], [0]))


def test_addmm_and_baddbmm():
    rng = np.random.default_rng(2)
    c, a, b = rng.standard_normal((3, 2)), rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    np.testing.assert_allclose(qs.addmm(qs.tensor(c), qs.tensor(a), qs.tensor(b), beta=0.5, alpha=2).numpy(),
                               0.5 * c + 2 * a @ b)
    nan = qs.full((3, 2), float("nan"), dtype=qs.float64)
    assert not np.isnan(qs.addmm(nan, qs.tensor(a), qs.tensor(b), beta=0).numpy()).any()  # beta=0 ignores input
    batch1, batch2 = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 4, 5))
    np.testing.assert_allclose(qs.baddbmm(qs.zeros(5, dtype=qs.float64), qs.tensor(batch1), qs.tensor(batch2)).numpy(),
                               batch1 @ batch2)
    with pytest.raises(ValueError, match="addmm: input of shape"):
        qs.addmm(qs.tensor(rng.standard_normal((4, 2))), qs.tensor(a), qs.tensor(b))
    with pytest.raises(ValueError, match="baddbmm: batch1 and batch2 must be 3-D"):
        qs.baddbmm(qs.tensor(c), qs.tensor(a), qs.tensor(b))
