"""qs.viz.draw_graph: one box per op and per leaf, before and after backward,
rendered to SVG and PNG by Graphviz's `dot` (which `make test` installs)."""

import re
import shutil

import numpy as np
import pytest

import quasar as qs
from quasar import nn

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def seed_example():
    """The README's tour: result = (x + y) * (x - y)."""
    x = qs.tensor(np.array([2.0, 3.0]), requires_grad=True)
    y = qs.tensor(np.array([4.0, 5.0]), requires_grad=True)
    return x, y, (x + y) * (x - y)


def boxes(graph):
    """The node statements of the DOT source (lines with a label and no arrow)."""
    return [line for line in graph.source.splitlines() if "label=" in line and "->" not in line]


def test_seed_example_one_box_per_op_and_per_leaf(tmp_path):
    x, y, result = seed_example()
    graph = qs.viz.draw_graph(result, params={"x": x, "y": y})
    source = graph.source
    for op in ("Add", "Sub", "Mul"):
        assert sum(bool(re.search(f'label="?{op}\\b', line)) for line in boxes(graph)) == 1
    assert len(boxes(graph)) == 3 + 2 + 1  # three ops, two leaves (each used twice: one box), the output
    assert source.count("->") == 4 + 2 + 1  # x and y into Add and Sub, Add and Sub into Mul, Mul to the output
    assert '"x\\n(2,) float64"' in source or "label=\"x\\n(2,) float64\"" in source
    assert "(2,) float64" in source
    svg = graph.pipe(format="svg")
    assert b"<svg" in svg and b"Mul" in svg
    graph.render(tmp_path / "seed", format="png")
    assert (tmp_path / "seed.png").read_bytes().startswith(PNG_MAGIC)


def test_the_picture_keeps_its_shape_after_backward():
    x, y, result = seed_example()
    before = qs.viz.draw_graph(result, params={"x": x, "y": y})
    result.backward(qs.ones_like(result))
    after = qs.viz.draw_graph(result, params={"x": x, "y": y})
    for op in ("Add", "Sub", "Mul"):  # the output's shape is still known; the others' went with the tensors
        assert re.search(f'label="?{op}\\b', after.source)
    assert after.source.count("->") == before.source.count("->")
    assert "x\\n(2,) float64" in after.source  # leaves that need grad stay, as in PyTorch
    assert b"<svg" in after.pipe(format="svg")


def test_show_data_and_show_grad():
    x, y, result = seed_example()
    result.sum().backward()
    graph = qs.viz.draw_graph(x * y, params={"x": x}, show_data=True, show_grad=True)
    assert "data [2., 3.]" in graph.source and "grad [4., 6.]" in graph.source


def test_small_mlp_with_parameter_names(tmp_path):
    qs.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    x = qs.randn(5, 4)
    loss = nn.functional.cross_entropy(model(x), qs.tensor(np.array([0, 1, 2, 1, 0])))
    graph = qs.viz.draw_graph(loss, params=dict(model.named_parameters()))
    for name, shape in [("0.weight", "(8, 4)"), ("0.bias", "(8,)"), ("2.weight", "(3, 8)"), ("2.bias", "(3,)")]:
        assert f"{name}\\n{shape} float32" in graph.source
    assert "constant\\n(5, 4) float32" in graph.source  # the input batch needs no grad
    graph.render(tmp_path / "mlp", format="svg")
    assert b"<svg" in (tmp_path / "mlp.svg").read_bytes()


def test_max_nodes_cuts_a_long_chain():
    x = qs.ones(3, requires_grad=True)
    y = x
    for _ in range(50):
        y = y * 1.5
    graph = qs.viz.draw_graph(y, max_nodes=10)
    assert sum(bool(re.search('label="?Mul\\b', line)) for line in boxes(graph)) == 10
    assert "40 more op(s) not drawn" in graph.source


def test_a_leaf_alone_and_bad_arguments():
    assert "output\\n(3,) float32" in qs.viz.draw_graph(qs.ones(3)).source
    with pytest.raises(TypeError, match="draw_graph: expected a quasar Tensor"):
        qs.viz.draw_graph(np.ones(3))
    with pytest.raises(ValueError, match="max_nodes must be at least 1"):
        qs.viz.draw_graph(qs.ones(3), max_nodes=0)


def test_without_dot_the_source_comes_back_with_install_advice(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    x, y, result = seed_example()
    with pytest.warns(RuntimeWarning, match="apt-get install graphviz"):
        graph = qs.viz.draw_graph(result)
    assert "Mul" in graph.source
