"""``python -m sapdi_local``: the sapdi-local command."""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    main(prog_name="sapdi-local")
