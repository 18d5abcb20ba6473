"""The one progress display: exact lines on a terminal, nothing when piped or quiet."""

import io

from leadrules.engine.progress import Progress
from leadrules.engine.store.render import IngestProgress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_line_is_redrawn_with_count_share_rate_and_time_and_ended_with_a_newline():
    out, clock = Terminal(), Clock()
    with Progress("Scoring", 4000, "leads", stream=out, clock=clock) as bar:
        bar.update(1000)  # at once: no rate yet, a first rate would be noise
        clock.now += 2.0
        bar.update(1000)
        clock.now += 0.05
        bar.update(1000)  # within a tenth of a second of the last redraw: not drawn
        clock.now += 1.95
        bar.update(1000)
    assert out.getvalue() == (
        "\rScoring: 1,000 of 4,000 leads (25%), 0:00\033[K"
        "\rScoring: 2,000 of 4,000 leads (50%), 1,000 leads/s, 0:02\033[K"
        "\rScoring: 4,000 of 4,000 leads (100%), 1,000 leads/s, 0:04\033[K"
        "\rScoring: 4,000 of 4,000 leads (100%), 1,000 leads/s, 0:04\033[K\n")


def test_nothing_is_written_when_piped_or_quiet():
    piped, quiet = io.StringIO(), Terminal()
    for stream, hush in ((piped, False), (quiet, True)):
        with Progress("Scoring", 10, stream=stream, quiet=hush) as bar:
            bar.update(10)
    assert piped.getvalue() == quiet.getvalue() == ""


def test_an_import_rate_is_measured_from_its_first_batch_on():
    class Source:
        name, position, size = "events.csv", 750, 1000

    out, clock = Terminal(), Clock()
    with IngestProgress(stream=out, clock=clock) as progress:
        progress.update("events", Source, 100_000)  # the first batch of a resumed import
        clock.now += 5.0
        progress.update("events", Source, 150_000)
    assert out.getvalue().split("\r")[1:] == [
        "Importing events events.csv (75% read): 100,000 rows, 0:00\033[K",
        "Importing events events.csv (75% read): 150,000 rows, 10,000 rows/s, 0:05\033[K",
        "Importing events events.csv (75% read): 150,000 rows, 10,000 rows/s, 0:05\033[K\n"]
