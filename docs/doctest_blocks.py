"""A griffe extension for the API reference: docstring examples (``>>>`` lines and the output
under them) are shown as Python console blocks.

The docstrings write their examples as bare doctest lines, which Markdown would read as
prose: ``['churn', 'forecast']`` would become a link to nowhere (a warning, so the strict
build fails) and the lines would run together.
"""

from __future__ import annotations

from typing import Any

import griffe


def fenced(text: str) -> str:
    """The docstring with each run of ``>>>`` lines and their output in a ```pycon fence."""
    lines = text.splitlines()
    out: list[str] = []
    index = 0
    in_fence = False
    while index < len(lines):
        line = lines[index]
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        if in_fence or not line.lstrip().startswith(">>>"):
            out.append(line)
            index += 1
            continue
        indent = line[: len(line) - len(line.lstrip())]
        block = []
        while index < len(lines) and lines[index].strip():
            block.append(
                lines[index][len(indent) :] if lines[index].startswith(indent) else lines[index]
            )
            index += 1
        out.extend([f"{indent}```pycon", *(f"{indent}{part}" for part in block), f"{indent}```"])
    return "\n".join(out)


class DoctestBlocks(griffe.Extension):
    """Fence the doctest examples of every object's docstring."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = fenced(obj.docstring.value)
