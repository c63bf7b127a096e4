"""Markdown that used to take seconds to render, for any domain's tests."""

from __future__ import annotations


def wide_table(rows: int, columns: int = 10) -> str:
    """The reported shape: a header of `columns` cells over `rows` one-character rows, which
    markdown-it pads to `columns` cells each (9,910 rows fit a 20,000-character post)."""
    return "|" + "h|" * columns + "\n|" + "-|" * columns + "\n" + "x\n" * rows
