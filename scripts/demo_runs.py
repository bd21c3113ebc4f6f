"""Write a database of realistic-looking runs, for trying the explorer and for its screenshot.

    python scripts/demo_runs.py demo.db
    sapdi-local ui --db demo.db --open

Two scenarios, four collections (one of them a notebook's default collection), runs with
learning-rate and depth parameters, loss and accuracy curves of 60-200 steps, tags, a
``percentage`` label on accuracy and a final ``f1`` score; every run ends FINISHED. The numbers
come from a seeded generator, so every call writes the same values.
"""

from __future__ import annotations

import math
import random
import sys
from pathlib import Path

from sapdi_local import MLTrackingSDK

RECIPES = (
    # scenario, collection (None: the notebook's default), notebook, runs
    ("churn", "Logistic Regression", "churn.ipynb", 4),
    ("churn", "Gradient Boosting", "churn.ipynb", 5),
    ("churn", None, "explore.ipynb", 2),
    ("demand-forecast", "LSTM", "forecast.ipynb", 3),
)


def write_demo_runs(path: Path, *, seed: int = 7) -> None:
    """Fill ``path`` (created if missing) with the demo runs."""
    rng = random.Random(seed)
    for scenario, collection, notebook, count in RECIPES:
        sdk = MLTrackingSDK(
            db_path=path, scenario=scenario, scenario_version="v1", notebook=notebook
        )
        for index in range(count):
            learning_rate = round(10 ** rng.uniform(-3.5, -1), 5)
            depth = rng.choice((2, 4, 6, 8))
            name = f"{(collection or 'explore').split()[0].lower()}-{index + 1}"
            sdk.start_run(run_collection_name=collection, run_name=name)
            sdk.log_parameters({"learning_rate": learning_rate, "max_depth": depth})
            sdk.set_tags({"dataset": rng.choice(("v1", "v2")), "owner": "data-team"})
            sdk.set_labels({"accuracy": {"format_string": "percentage"}})
            steps = rng.randint(60, 200)
            speed = 0.5 + 40 * learning_rate
            ceiling = 0.78 + 0.18 * rng.random()
            for step in range(steps):
                progress = 1 - math.exp(-speed * step / 20)
                noise = rng.gauss(0, 0.01)
                loss = max(0.02, 1.2 * (1 - progress) + 0.08 + noise * 3)
                sdk.log_metric("loss", loss, step=step)
                sdk.log_metric(
                    "accuracy", min(1.0, 0.5 + (ceiling - 0.5) * progress + noise), step=step
                )
            sdk.log_metric("f1", round(ceiling - 0.05 + rng.gauss(0, 0.02), 4))
            sdk.end_run()
        sdk.close()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python scripts/demo_runs.py DATABASE")
    write_demo_runs(Path(sys.argv[1]))
    print(f"demo runs written to {sys.argv[1]}")
