"""The long fuzz run: rule files, rule-test files and ingest rows mutated by the hundred thousand,
each handled in this process (no subprocess per input), counting exceptions, hangs and files that
`check` calls clean but that then fail. The mutators and the oracle are tests/fuzzing.py's.

    python bench/fuzz.py --files 100000 --rows 100000 --seed 1 --timeout 10 --out fuzz-findings

An input is a hang when it takes longer than --timeout seconds plus --per-mb seconds for each MB
of it: `check` takes time in proportion to a file's length (a 2 MB file, the most a rule file
may have, some seconds), and what the limit is for is time beyond that. Exit status 0 when
nothing was found, 1 otherwise; every finding's input is written to --out.
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.setrecursionlimit(1000)  # what a user's `leadrules` runs with, whatever the harness needs

import fuzzing  # noqa: E402 - after the path it is found on

ROWS_PER_FILE = 50  # ingest rows are read in files of this many, as ingest reads a file
DIFF_EVERY = 10  # every 10th rule file, when clean, is also diffed against b2b.rules
RUN_EVERY = 50  # and every 50th run on a store and through the CLI (slower: an SQLite file)


def _options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000, help="rule files to try")
    parser.add_argument("--tests", type=int, default=None,
                        help="rule-test files to try (default: a tenth of --files)")
    parser.add_argument("--rows", type=int, default=10_000, help="malformed ingest rows to try")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds allowed per input")
    parser.add_argument("--per-mb", type=float, default=20.0,
                        help="seconds allowed per MB of an input, on top of --timeout")
    parser.add_argument("--out", type=Path, default=None, help="folder for findings' inputs")
    parser.add_argument("--every", type=int, default=5_000, help="progress every N inputs")
    return parser.parse_args(argv)


class Tally:
    """Counts of inputs and of findings by kind and stage, and where the findings were written."""

    def __init__(self, out: Path | None):
        self.inputs: collections.Counter = collections.Counter()
        self.findings: collections.Counter = collections.Counter()
        self.out, self.start = out, time.perf_counter()

    def add(self, what: str, finding: fuzzing.Finding | None) -> None:
        self.inputs[what] += 1
        if finding is None:
            return
        self.findings[(what, finding.kind, finding.stage, finding.error[:80])] += 1
        if self.out is not None:
            self.out.mkdir(parents=True, exist_ok=True)
            number = sum(self.findings.values())
            (self.out / f"{number:05d}-{what}-{finding.kind}.txt").write_text(
                f"# {finding.stage}: {finding.error}\n{finding.text}", encoding="utf-8",
                errors="surrogateescape")

    def progress(self, what: str) -> None:
        print(f"{time.perf_counter() - self.start:8.1f} s  {what}: {self.inputs[what]:,} inputs, "
              f"{sum(n for k, n in self.findings.items() if k[0] == what)} findings", flush=True)

    def summary(self) -> str:
        kinds = collections.Counter()
        for (what, kind, _, _), n in self.findings.items():
            kinds[(what, kind)] += n
        lines = [f"{what}: {n:,} inputs, " + ", ".join(
            f"{kinds[(what, kind)]} {kind}" for kind in ("exception", "hang", "clean-but-failing"))
            for what, n in self.inputs.items()]
        lines += [f"  {what}: {n:,}" for what, n in fuzzing.REACHED.items()]
        lines += [f"  {n} x {what} {kind} in {stage}: {error}"
                  for (what, kind, stage, error), n in self.findings.most_common()]
        lines.append(f"{time.perf_counter() - self.start:.0f} s in all")
        return "\n".join(lines)


def fuzz_rules(rng: random.Random, count: int, timeout: float, tally: Tally, every: int,
               per_mb: float = 20.0) -> None:
    corpus = fuzzing.rule_corpus()
    vocabulary = fuzzing.vocabulary_of(corpus)
    leads = fuzzing.sample_leads()
    base = fuzzing.RulesUnderTest.bundled().ruleset
    store = fuzzing.SampleStore()
    try:
        for n in range(1, count + 1):
            text = fuzzing.mutate_rules(rng, corpus, vocabulary)
            tally.add("rules", fuzzing.check_rules(
                text, leads, base if n % DIFF_EVERY == 0 else None, timeout,
                store if n % RUN_EVERY == 0 else None, per_mb))
            if n % every == 0:
                tally.progress("rules")
    finally:
        store.close()


def fuzz_tests(rng: random.Random, count: int, timeout: float, tally: Tally, every: int,
               per_mb: float = 20.0) -> None:
    corpus = fuzzing.tests_corpus()
    vocabulary = fuzzing.vocabulary_of([t for t, _ in corpus])
    suites = {rules: fuzzing.suite_of(rules) for _, rules in corpus}
    for n in range(1, count + 1):
        tests, rules = rng.choice(corpus)
        text = fuzzing.mutate_tests(rng, tests, vocabulary)
        tally.add("tests", fuzzing.check_tests(text, suites[rules], timeout, per_mb))
        if n % every == 0:
            tally.progress("tests")


def fuzz_rows(rng: random.Random, count: int, timeout: float, tally: Tally, every: int) -> None:
    rules = fuzzing.RulesUnderTest.bundled()
    done = 0
    while done < count:
        size = min(ROWS_PER_FILE, count - done)
        kind, fmt = rng.choice(["leads", "events"]), rng.choice(["csv", "jsonl"])
        data = fuzzing.ingest_batch(rng, kind, fmt, size)
        finding = fuzzing.check_rows(data, kind, fmt, rules, timeout * 2)
        tally.add("rows", finding)
        tally.inputs["rows"] += size - 1  # counted by row, not by file
        before, done = done, done + size
        if before // every != done // every:
            tally.progress("rows")


def main(argv: list[str] | None = None) -> int:
    options = _options(argv)
    # `leadrules check` keeps the statements of each file it reads in the cache directory:
    # a run's own, removed at the end, not the user's
    cache = tempfile.mkdtemp(prefix="leadrules-fuzz-cache-")
    os.environ["XDG_CACHE_HOME"] = cache
    try:
        return _run(options)
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def _run(options: argparse.Namespace) -> int:
    tally = Tally(options.out)
    tests = options.files // 10 if options.tests is None else options.tests
    print(f"fuzz: {options.files:,} rule files, {tests:,} test files, {options.rows:,} rows, "
          f"seed {options.seed}, {options.timeout} s per input and {options.per_mb} s per MB",
          flush=True)
    fuzz_rules(random.Random(options.seed), options.files, options.timeout, tally, options.every,
               options.per_mb)
    fuzz_tests(random.Random(options.seed + 1), tests, options.timeout, tally, options.every,
               options.per_mb)
    fuzz_rows(random.Random(options.seed + 2), options.rows, options.timeout, tally,
              options.every)
    print(tally.summary(), flush=True)
    return 1 if tally.findings else 0


if __name__ == "__main__":
    sys.exit(main())
