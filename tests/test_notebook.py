"""examples/quickstart.ipynb runs headless in a real Jupyter kernel (nbclient): the seed's
examples, the context-manager form, DataFrames and a Plotly chart of a metric history.

It also proves that the notebook's name becomes the runs' source and the name of their
default collection: the kernel is told its notebook's path the way Jupyter Server tells
every kernel it starts (the JPY_SESSION_NAME environment variable).
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from sapdi_local import MLTrackingSDK

NOTEBOOK = Path(__file__).resolve().parent.parent / "examples" / "quickstart.ipynb"


@pytest.fixture
def executed(
    tmp_path: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> nbformat.NotebookNode:
    monkeypatch.setenv("JPY_SESSION_NAME", str(NOTEBOOK))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=180,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},  # the kernel's working folder
    )
    client.execute()  # raises CellExecutionError, with the cell, if any cell fails
    return notebook


def outputs(notebook: nbformat.NotebookNode) -> list[dict[str, object]]:
    return [
        output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    ]


def test_the_notebook_runs_and_shows_tables_and_a_chart(executed: nbformat.NotebookNode) -> None:
    found = outputs(executed)
    assert not [output for output in found if output["output_type"] == "error"]
    html = [
        output["data"]["text/html"] for output in found if "text/html" in output.get("data", {})
    ]
    assert any("<table" in text and "FINISHED" in text for text in html)  # get_runs, displayed
    assert any("metrics.loss" in text for text in html)  # the runs DataFrame
    [figure] = [
        output["data"]["application/vnd.plotly.v1+json"]
        for output in found
        if "application/vnd.plotly.v1+json" in output.get("data", {})
    ]
    traces = figure["data"]
    assert sorted(trace["name"] for trace in traces) == ["lr=0.003", "lr=0.01", "lr=0.03"]
    assert all(numbers(trace["x"]) == list(range(40)) for trace in traces)


def numbers(data: object) -> list[float]:
    """An array of a Plotly figure: a list, or (Plotly 6) a typed array in base64."""
    if isinstance(data, dict):
        import base64

        import numpy

        return numpy.frombuffer(base64.b64decode(data["bdata"]), dtype=data["dtype"]).tolist()
    assert isinstance(data, list)
    return data


def test_the_notebook_name_is_the_source_and_the_default_collection(
    executed: nbformat.NotebookNode, db_path: Path
) -> None:
    printed = "".join(
        str(output.get("text", ""))
        for output in outputs(executed)
        if output["output_type"] == "stream"
    )
    assert "quickstart.ipynb | quickstart.ipynb (Default)" in printed
    with MLTrackingSDK(db_path=db_path) as reader:
        runs = reader.get_runs(scenario=reader.list_scenarios())
        assert runs and all(run.notebook == "quickstart.ipynb" for run in runs)
        defaults = [run for run in runs if run.collection_is_default]
        assert defaults and all(run.collection == "quickstart.ipynb" for run in defaults)
        sweep = [run for run in runs if run.collection == "lr sweep"]
        assert len(sweep) == 3
        for run in sweep:
            [loss] = reader.get_metrics_history(run=run, metrics="loss")
            assert [value.step for value in loss.values] == list(range(40))


def test_the_committed_notebook_carries_no_outputs() -> None:
    """Outputs are made by running it; the file in the repository stays small and clean."""
    notebook = json.loads(NOTEBOOK.read_text())
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert code and all(cell["outputs"] == [] and cell["execution_count"] is None for cell in code)
