"""Log a first set of runs into your database: the original SDK's first example, then a
small learning-rate sweep, as a training script would.

    python examples/first_runs.py      # into the per-user database (or $SAPDI_LOCAL_DB)
    sapdi-local runs                   # see them in the terminal
    sapdi-local ui --open              # and in the metrics explorer

The sweep's numbers come from a seeded generator: every call logs the same values (as new
runs: run it twice and each run is there twice).
"""

from __future__ import annotations

import math
import random

from sapdi import tracking


def first_example() -> None:
    """The first example of the original SDK's documentation, as it stands there."""
    tracking.start_run()
    params = {
        "input_size": 784,
        "hidden_size": 500,
        "num_classes": 10,
        "num_epochs": 2,
        "batch_size": 100,
        "learning_rate": 0.001,
        "model_file": "model.ckpt",
    }
    tracking.log_parameters(params)
    for _ in range(params["num_epochs"]):
        tracking.log_metric(name="metric_name", value=1)
    tracking.set_tags({"tag_key": "tag_value", "tag_key_n": "tag_value_n"})
    tracking.set_labels({"accuracy": {"format_string": "percentage"}})
    tracking.end_run()


def learning_rate_sweep(seed: int = 7) -> None:
    """Five runs of one collection, each a training curve for another learning rate."""
    rng = random.Random(seed)
    for learning_rate in (0.0003, 0.001, 0.003, 0.01, 0.03):
        with tracking.start_run(run_collection_name="lr-sweep", run_name=f"lr-{learning_rate}"):
            tracking.log_parameters({"learning_rate": learning_rate, "optimizer": "adam"})
            tracking.set_tags({"dataset": "v2"})
            tracking.set_labels({"accuracy": {"format_string": "percentage"}})
            speed = 20 * learning_rate + 0.05
            for epoch in range(30):
                progress = 1 - math.exp(-speed * epoch)
                tracking.log_metric("loss", 1.2 * (1 - progress) + 0.1 + rng.gauss(0, 0.01))
                tracking.log_metric("accuracy", 0.5 + 0.42 * progress + rng.gauss(0, 0.005))


if __name__ == "__main__":
    first_example()
    learning_rate_sweep()
    where = tracking.get_default_sdk().db_path
    print(f"logged 6 runs into {where}")
    print("see them:   sapdi-local runs")
    print("browse:     sapdi-local ui --open")
