"""The text of the command line's exports and ``--json`` lists, written a piece at a time:
the same characters ``json.dumps(..., indent=2, ensure_ascii=False)`` and ``csv.writer``
give of the whole, made one run or one history at a time so that a long export is never
held in memory, and the usual histories (floats, whole steps) laid out directly."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from json.encoder import encode_basestring
from typing import Any


def json_array_text(
    items: Iterable[Any], *, depth: int = 0, encode: Callable[[Any], str] | None = None
) -> Iterator[str]:
    """The text of ``json.dumps(list(items), indent=2, ensure_ascii=False)`` as it stands
    ``depth`` levels inside a document so written, in pieces made one item at a time: a
    long array is written without being held whole. ``encode`` gives an item's text as
    ``json.dumps(item, indent=2, ensure_ascii=False)`` would (faster, for a known shape).

    >>> "".join(json_array_text([{"a": 1}]))
    '[\\n  {\\n    "a": 1\\n  }\\n]'
    """
    # json.dumps writes every newline inside a string as an escape: each one in its text
    # starts a line of the layout, which one more level of indentation moves right.
    inner = "\n" + "  " * (depth + 1)
    first = True
    for item in items:
        text = encode(item) if encode is not None else json.dumps(item, **INDENTED)
        yield ("[" if first else ",") + inner + text.replace("\n", inner)
        first = False
    yield "[]" if first else "\n" + "  " * depth + "]"


INDENTED: dict[str, Any] = {"indent": 2, "ensure_ascii": False}
"""How the commands write JSON for people and programs alike (print_json, exports)."""


def json_scalar(value: object) -> str:
    """``json.dumps(value, ensure_ascii=False)`` of a number, None or text, with the usual
    kinds (a finite float, an int, None) made without the encoder's machinery."""
    kind = value.__class__
    if kind is float and value - value == 0:  # type: ignore[operator]  # finite floats only
        return float.__repr__(value)
    if kind is int:
        return int.__repr__(value)
    if value is None:
        return "null"
    if kind is str:
        return encode_basestring(value)  # type: ignore[arg-type]
    return json.dumps(value, ensure_ascii=False)


_STORED_VALUE = '{\n      "value": %s,\n      "step": %s,\n      "timestamp": %s\n    }'


def metric_history_json(run_id: str, name: str, values: Sequence[Sequence[Any]]) -> str:
    """``json.dumps({"run_id": run_id, "name": name, "values": [{"value": v, "step": s,
    "timestamp": t}, ...]}, indent=2, ensure_ascii=False)`` of (value, step, timestamp)
    triples, written directly: a history holds up to 1000 values, which the general
    encoder (in Python once indented) takes twenty times longer to lay out."""
    if values:
        columns = [_scalar_texts(column) for column in zip(*values, strict=True)]
        listed = ",\n    ".join(map(_STORED_VALUE.__mod__, zip(*columns, strict=True)))
        values_text = f"[\n    {listed}\n  ]"
    else:
        values_text = "[]"
    return (
        f'{{\n  "run_id": {json_scalar(run_id)},\n  "name": {json_scalar(name)},\n'
        f'  "values": {values_text}\n}}'
    )


def _scalar_texts(column: Sequence[Any]) -> Iterable[str]:
    """``json_scalar`` of each item: a column of finite floats or of ints, the usual kinds
    of a history, in one call to repr per item."""
    kinds = set(map(type, column))
    # A sum that is finite has no NaN or infinity among its terms (json spells those
    # its own way); one that overflows only sends a finite column down the long way.
    if kinds == {float} and math.isfinite(sum(column)):
        return map(float.__repr__, column)
    if kinds == {int}:
        return map(int.__repr__, column)
    return map(json_scalar, column)


def metric_values_csv(run_id: str, name: str, values: Sequence[Sequence[Any]]) -> str:
    """The lines ``csv.writer`` (its default dialect) writes of ``[run_id, name, step,
    value, timestamp]`` for each (value, step, timestamp) of a history. The usual history
    (float values and times, whole or missing steps) is laid out directly: numbers need no
    quoting, and the run and metric are quoted once rather than once per value."""
    kinds = {float}.issuperset
    if not (
        kinds(map(type, (value for value, _, _ in values)))
        and kinds(map(type, (stamp for _, _, stamp in values)))
        and {int, type(None)}.issuperset(map(type, (step for _, step, _ in values)))
    ):
        text = io.StringIO()
        csv.writer(text).writerows(
            [run_id, name, step, value, stamp] for value, step, stamp in values
        )
        return text.getvalue()
    text = io.StringIO()
    csv.writer(text).writerow([run_id, name, ""])
    prefix = text.getvalue()[:-2]  # "run,name," without the line's end
    return "".join(
        f"{prefix}{'' if step is None else int.__repr__(step)},"
        f"{float.__repr__(value)},{float.__repr__(stamp)}\r\n"
        for value, step, stamp in values
    )
