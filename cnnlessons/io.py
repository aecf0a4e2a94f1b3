"""Writing files atomically: a reader sees the old file or the new one, never half of one."""
from __future__ import annotations

import hashlib
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it into place, on error delete it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Keep the suffix so tools that check it (papermill wants .ipynb) accept the temporary file.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    # mkstemp makes the file private (0600); give it the mode a plain open() would.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def sha256(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes, as hex (read in 1 MiB blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table (cells are ``str()``-ed; ``|`` in a cell is escaped)."""
    def line(cells: Sequence[Any]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"
    return "\n".join([line(header), line(["---"] * len(header)), *(line(r) for r in rows)])


class Table:
    """A table of results that shows itself well wherever it is shown.

    In JupyterLab and on the course website it is an HTML ``<table>`` inside a box that scrolls
    sideways when the table is wider than the page (so no column is ever cut off); printed in a
    terminal, ``str(table)`` is the same table as aligned plain text; ``table.markdown()`` gives
    GitHub-flavoured Markdown. End a cell with the table (not ``print(table)``) to get the HTML.

    Numbers are formatted by the caller: cells are shown with ``str()``.
    """

    def __init__(self, header: Sequence[str], rows: Sequence[Sequence[Any]], *, caption: str = "") -> None:
        self.header = [str(h) for h in header]
        self.rows = [[str(c) for c in row] for row in rows]
        bad = [i for i, row in enumerate(self.rows) if len(row) != len(self.header)]
        if bad:
            raise ValueError(f"Table: row {bad[0]} has {len(self.rows[bad[0]])} cells, the header has "
                             f"{len(self.header)}")
        self.caption = caption

    def markdown(self) -> str:
        return markdown_table(self.header, self.rows)

    def __str__(self) -> str:
        widths = [max(len(c) for c in col) for col in zip(self.header, *self.rows)]

        def line(cells: Sequence[str]) -> str:
            return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()
        lines = [self.caption] if self.caption else []
        lines += [line(self.header), line(["-" * w for w in widths]), *(line(r) for r in self.rows)]
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        import html
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.header)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in self.rows)
        caption = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        return (f"<div class='cnnlessons-table' style='overflow-x:auto; max-width:100%'>"
                f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")
