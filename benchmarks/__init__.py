"""Benchmarks of sapdi-local, each measured side by side with a baseline in the same run.

Run them with ``python -m benchmarks`` (add ``--quick`` for a short run). They are not
tests: nothing here asserts a time; the figures go to a table and a JSON file.
"""
