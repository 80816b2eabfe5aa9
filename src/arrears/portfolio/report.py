"""What an import did, and the rejects file that names every refused row."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

__all__ = ["ImportReport", "RejectSink", "rejects_path_for"]


@dataclass
class ImportReport:
    kind: str
    source: str
    run_id: int | None = None
    rows_read: int = 0
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_unchanged: int = 0
    rows_rejected: int = 0
    rejects_path: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        """0 when every row was taken, 3 when some were rejected."""
        return 3 if self.rows_rejected else 0

    def counts(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "rows_read": self.rows_read,
            "inserted": self.rows_inserted,
            "updated": self.rows_updated,
            "unchanged": self.rows_unchanged,
            "rejected": self.rows_rejected,
            **self.extra,
        }


def rejects_path_for(source: Path) -> Path:
    """``accounts.csv`` -> ``accounts.csv.rejects.csv`` beside the input."""
    return source.with_name(source.name + ".rejects.csv")


class RejectSink:
    """Collects (row, field, reason) triples; written to a temporary file, published after commit."""

    def __init__(self, source: Path) -> None:
        self.source = source
        self.final = rejects_path_for(source)
        self.partial = self.final.with_name(self.final.name + ".partial")
        self._rows: list[tuple[int, str, str]] = []

    def add_many(self, problems: list[tuple[int, str, str]]) -> None:
        self._rows.extend(problems)

    def add_frame(self, frame: pl.DataFrame) -> None:
        """``frame`` has ``_row`` and a list column of ``field\\treason`` texts."""
        if frame.height == 0:
            return
        exploded = frame.explode(frame.columns[1])
        for row, text in exploded.iter_rows():
            name, _, reason = str(text).partition("\t")
            self._rows.append((int(row), name, reason))

    def finish(self) -> Path | None:
        """Write the partial file; returns the path it will have once published (None if clean)."""
        if not self._rows:
            self.partial.unlink(missing_ok=True)
            return None
        self._rows.sort(key=lambda r: r[0])
        with self.partial.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["file", "row", "field", "reason"])
            for row, name, reason in self._rows:
                writer.writerow([self.source.name, row, name, reason])
        return self.final

    def publish(self) -> None:
        """Move the rejects file into place (after the import committed)."""
        if self.partial.exists():
            os.replace(self.partial, self.final)
        elif not self._rows:
            self.final.unlink(missing_ok=True)

    @property
    def rows(self) -> list[tuple[int, str, str]]:
        return list(self._rows)
