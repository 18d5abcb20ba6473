"""A lead export is printed as it is read: the pieces join to exactly the whole text."""

import json

import pytest

from leadrules.engine.report.exports import Export, chunks
from leadrules.engine.tables import rows_text

COLUMNS = ("lead_id", "score", "stage_entered_at")
ROWS = [{"lead_id": f"L{n}", "score": n, "stage_entered_at": None if n % 2 else 86_400_000_000}
        for n in range(7)]


@pytest.mark.parametrize("output", ["csv", "json", "text", "markdown"])
@pytest.mark.parametrize("rows", [ROWS, ROWS[:1], []])
def test_chunks_join_to_the_text_of_all_rows_at_once(output, rows):
    shown = [{**r, "stage_entered_at": None if r["stage_entered_at"] is None
              else "1970-01-02T00:00:00Z"} for r in rows]
    pieces = list(chunks(Export({}, COLUMNS, iter(rows)), output, rows_per_chunk=3))
    assert "".join(pieces) == rows_text(COLUMNS, shown, output)
    if output in ("csv", "json") and len(rows) == 7:
        assert len(pieces) == (3 if output == "csv" else 4)  # 3 chunks of rows (and JSON's end)
    if output == "json":
        assert json.loads("".join(pieces)) == shown
