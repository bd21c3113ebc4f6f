"""Every example of the original SDK's documentation runs unchanged against a fresh database.

Each example is copied verbatim from "Using the SDK to Track Metrics". The only edits,
each marked in the example, are the ones the page itself needs to be Python:
the second example uses ``sapdi`` without importing it and has a prose line (``**Note**``)
inside its code, and the label example misses a comma, uses typographic quotes and an
undefined ``value_n``. Examples 3 and 4 are fragments: they get the import (and, for the
label fragment, a run) they assume. After each example, checks run in the same
interpreter, against the state the example left.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_python

EXAMPLE_LOG_ONE_METRIC = """
from sapdi import tracking

run = tracking.start_run()
# tracking.start_run(run_collection_name='rc1') # Use this to group different runs under a collection

params = {
    'input_size': 784,
    'hidden_size': 500,
    'num_classes': 10,
    'num_epochs': 2,
    'batch_size': 100,
    'learning_rate': 0.001,
    'model_file': 'model.ckpt'
}

tracking.log_parameters(params)


# the experimental code.
for i in range(params.get('num_epochs')):
    tracking.log_metric(name='metric_name', value=1)

# more code
tracking.set_tags({
    "tag_key": "tag_value",
    "tag_key_n": "tag_value_n"
  })
tracking.set_labels({
    "accuracy": {
      "format_string": "percentage"
    }})

# more code

tracking.end_run()
"""

CHECK_LOG_ONE_METRIC = """
import sapdi
[stored] = tracking.get_runs(run=run)
assert stored.status == "FINISHED"
assert stored.name == run.id and stored.collection_is_default
assert {k: v for k, v in stored.parameters.items() if k not in ("start", "end")} == {
    "input_size": "784", "hidden_size": "500", "num_classes": "10", "num_epochs": "2",
    "batch_size": "100", "learning_rate": "0.001", "model_file": "model.ckpt"}
assert stored.parameters["start"] <= stored.parameters["end"]
assert stored.metrics == {"metric_name": 1.0}
assert stored.tags == {"tag_key": "tag_value", "tag_key_n": "tag_value_n", "runName": run.id}
assert stored.labels == {"accuracy": {"format_string": "percentage"}}
[history] = tracking.get_metrics_history(run=run)
assert [v.value for v in history.values] == [1.0, 1.0]
print("checked")
"""

EXAMPLE_LOG_FETCH_DELETE = """
import sapdi  # edit: the page uses sapdi below without importing it
from sapdi import tracking

run = tracking.start_run()

metrics = {
    'accuracy': 0.89,
    'cross_entropy': 3.2,
    'avg_loss': 0.59
}

tracking.log_metrics(metrics)

# more code

# Mark the end of tracking
tracking.end_run() # persists the metrics at the end of the run

# Persisting metrics after the end
tracking.log_metric('uncertainty', 0.4, run=run)

# To Fetch payload from API for the current run
runs = tracking.get_runs(run=run)
fetched_by_run = runs  # edit: kept for the checks below

# To Fetch metrics from API by tags(in addition with other parameters)
runs = tracking.get_runs(run=run, tags = {'tag_key': 'tag_value'})
# edit: prose in the page's code, made a comment:
# **Note**: tag parameter is of type python dictionary, in which key is tag name and value is tag value

# To Delete all payload for the current run
tracking.delete_runs(run=run)

# To Delete run for single/current scenario
scenario_object = sapdi.get_current_scenario()
tracking.delete_runs(scenario=scenario_object)

# To Delete runs for multiple scenarios
scenario_list = sapdi.list_scenarios()
tracking.delete_runs(scenario=scenario_list)
"""

CHECK_LOG_FETCH_DELETE = """
[stored] = fetched_by_run
assert stored.metrics == {"accuracy": 0.89, "cross_entropy": 3.2, "avg_loss": 0.59, "uncertainty": 0.4}
assert runs == []  # the run has no tag tag_key=tag_value
assert tracking.get_runs(run=run) == []
assert tracking.get_runs(scenario=sapdi.get_current_scenario()) == []
assert [s.id for s in scenario_list] == [scenario_object.id]
print("checked")
"""

EXAMPLE_LABELS = """
from sapdi import tracking  # edit: the fragment assumes the import and an active run
run = tracking.start_run()
value_n = "value_n"

tracking.set_labels({
"accuracy": {
"format_string": "percentage"
},  # edit: the page misses this comma
"Label_n" : value_n  # edit: the page has typographic quotes around Label_n
})

tracking.end_run()
"""

CHECK_LABELS = """
[stored] = tracking.get_runs(run=run)
assert stored.labels == {"accuracy": {"format_string": "percentage"}, "Label_n": "value_n"}
print("checked")
"""

EXAMPLE_RUN_INFO = """
from sapdi import tracking  # edit: the fragment assumes the import

# To set run_name or run_collection while starting run
run = tracking.start_run(run_collection_name='Logistics Regression', run_name='LR_run_5')

# more code

# Update run_name or run_collection of current run
tracking.update_run_info(run_collection_name='Logistics Regression2', run_name='LR_run_6')
during = tracking.get_runs(run=run)[0]  # edit: kept for the checks below

# more code

tracking.end_run()

# Update run_name or run_collection after run has ended
tracking.update_run_info(run=run, run_collection_name='Logistics Regression3', run_name='LR_run_7')
"""

CHECK_RUN_INFO = """
assert run.name == "LR_run_5" and run.collection == "Logistics Regression"
assert (during.name, during.collection, during.status) == ("LR_run_6", "Logistics Regression2", "RUNNING")
[stored] = tracking.get_runs(run=run)
assert (stored.name, stored.collection) == ("LR_run_7", "Logistics Regression3")
assert not stored.collection_is_default
assert stored.tags["runName"] == "LR_run_7"
print("checked")
"""

EXAMPLE_HISTORY = """
from sapdi import tracking
run = tracking.start_run()
#logging metrics multiple times
for i in range(10):
    tracking.log_metrics({
        'accuracy': 0.89,
        'cross_entropy': 3.2,
        'avg_loss': 0.59
    })

tracking.persist_run()
# Fetch metrics history(of accuracy & avg_loss) while run is active
metric_history = tracking.get_metrics_history(metrics=['accuracy','avg_loss'])
# Fetch history all metrics while run is active
metric_history_all = tracking.get_metrics_history()
active_history, active_history_all = metric_history, metric_history_all  # edit: kept for checks
# more code
# Mark the end of tracking
tracking.end_run() # persists the metrics at the end of the run
# Persisting metrics after the end
tracking.log_metric('uncertainty', 0.4, run=run)
# To Fetch payload from API for the current run
runs = tracking.get_runs(run=run)
# Fetch metrics history(of accuracy & avg_loss) after run has ended
metric_history = tracking.get_metrics_history(run=runs[0], metrics=['accuracy','avg_loss'])
# Fetch history all metrics while run after run has ended
metric_history_all = tracking.get_metrics_history(run=runs[0])
"""

CHECK_HISTORY = """
assert [h.name for h in active_history] == ["accuracy", "avg_loss"]
assert [[v.value for v in h.values] for h in active_history] == [[0.89] * 10, [0.59] * 10]
assert sorted(h.name for h in active_history_all) == ["accuracy", "avg_loss", "cross_entropy"]
assert runs[0].metrics["uncertainty"] == 0.4
assert [h.name for h in metric_history] == ["accuracy", "avg_loss"]
assert all(len(h.values) == 10 for h in metric_history)
assert sorted(h.name for h in metric_history_all) == [
    "accuracy", "avg_loss", "cross_entropy", "uncertainty"]
print("checked")
"""

EXAMPLES = {
    "log one metric at a time": (EXAMPLE_LOG_ONE_METRIC, CHECK_LOG_ONE_METRIC),
    "log several metrics, fetch and delete": (EXAMPLE_LOG_FETCH_DELETE, CHECK_LOG_FETCH_DELETE),
    "labels": (EXAMPLE_LABELS, CHECK_LABELS),
    "set and update run information": (EXAMPLE_RUN_INFO, CHECK_RUN_INFO),
    "metrics history": (EXAMPLE_HISTORY, CHECK_HISTORY),
}


@pytest.mark.parametrize("example", EXAMPLES)
def test_seed_example_runs_on_a_fresh_database(example: str, tmp_path: Path) -> None:
    """The page's example runs in a fresh interpreter on a new file and leaves the state it describes."""
    code, checks = EXAMPLES[example]
    database = tmp_path / "fresh" / "tracking.db"
    result = run_python(code + checks, env={"SAPDI_LOCAL_DB": str(database)}, cwd=tmp_path)
    assert result.stdout.strip().endswith("checked")
    assert database.exists()


def test_seed_two_collections_from_one_notebook(tmp_path: Path) -> None:
    """The page's collection example: runs in "RC1" and runs without a name make two collections,
    "RC1" and the notebook's default "abc"."""
    code = """
        from sapdi import tracking
        for collection in ("RC1", "RC1", None, None):
            tracking.start_run(run_collection_name=collection)
            tracking.end_run()
        runs = tracking.get_runs(notebook="abc", scenario="demo")
        print(sorted({r.collection_display_name for r in runs}))
    """
    result = run_python(
        code,
        env={
            "SAPDI_LOCAL_DB": str(tmp_path / "t.db"),
            "SAPDI_NOTEBOOK": "abc",
            "SAPDI_SCENARIO": "demo",
        },
        cwd=tmp_path,
    )
    assert result.stdout.strip() == "['RC1', 'abc (Default)']"
