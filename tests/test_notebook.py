"""examples/tutorial.py, the notebook course, runs top to bottom as a
notebook (jupytext reads it, nbclient executes it in a fresh kernel) in its
fast mode, and its pictures come out."""

import pathlib

import jupytext
import nbclient

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def test_the_tutorial_notebook_runs_top_to_bottom(tmp_path, monkeypatch):
    monkeypatch.setenv("QUASAR_EXAMPLE_FAST", "1")  # the kernel inherits the environment
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    notebook = jupytext.read(EXAMPLES / "tutorial.py")
    assert not any(cell.get("outputs") for cell in notebook.cells)  # the source keeps no outputs
    client = nbclient.NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, if any cell fails
    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    text = "".join(out.get("text", "") for out in outputs if out.output_type == "stream")
    assert "tensor([4., 6.], dtype=float64) tensor([ -8., -10.], dtype=float64)" in text
    assert "tanh(a * b) @ b: True" in text
    assert "AssertionError" in text  # the wrong backward was caught
    assert "test accuracy after 3 epochs" in text
    pictures = [out for out in outputs if "data" in out and "image/png" in out["data"]]
    graphs = [out for out in outputs if "data" in out and "image/svg+xml" in out["data"]]
    assert len(pictures) >= 3 and len(graphs) == 2  # the plots; the seed's and the MLP's graphs
