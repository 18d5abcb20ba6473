"""The fast slice of the fuzz harness (bench/fuzz.py runs the long one): rule files, rule-test
files and ingest rows mutated from real ones, each handled soundly (tests/fuzzing.py's oracle:
no exception but leadrules' own errors, within a time limit, `fmt` keeping the tree and
idempotent, and what `check` passes compiling and running on a sample)."""

import functools

import pytest

import fuzzing

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

# derandomized: CI tries the same inputs each time; bench/fuzz.py explores new ones
FAST = settings(deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))
LIMIT = 10.0  # seconds per input, as bench/fuzz.py's default --timeout


@functools.cache
def corpus():
    rules = fuzzing.rule_corpus()
    tests = fuzzing.tests_corpus()
    return (rules, fuzzing.vocabulary_of(rules), fuzzing.sample_leads(),
            fuzzing.RulesUnderTest.bundled(), tests, fuzzing.vocabulary_of([t for t, _ in tests]),
            {text: fuzzing.suite_of(text) for _, text in tests})


def assert_sound(finding):
    assert finding is None, f"{finding.kind} in {finding.stage}: {finding.error}\n{finding.text}"


@settings(FAST, max_examples=500)
@given(st.randoms(use_true_random=False))
def test_mutated_rule_files_are_handled_soundly(rng):
    rules, vocabulary, leads, bundled, *_ = corpus()
    text = fuzzing.mutate_rules(rng, rules, vocabulary)
    base = bundled.ruleset if rng.random() < 0.2 else None  # a diff is slower than the rest
    assert_sound(fuzzing.check_rules(text, leads, base, LIMIT))


@settings(FAST, max_examples=20)
@given(st.randoms(use_true_random=False))
def test_mutated_rule_files_are_handled_soundly_by_a_run_and_the_cli(rng):
    rules, vocabulary, leads, *_ = corpus()
    store = fuzzing.SampleStore()
    try:
        text = fuzzing.mutate_rules(rng, rules, vocabulary)
        assert_sound(fuzzing.check_rules(text, leads, None, LIMIT, store))
    finally:
        store.close()


@settings(FAST, max_examples=100)
@given(st.randoms(use_true_random=False))
def test_mutated_rule_test_files_are_handled_soundly(rng):
    *_, tests, vocabulary, suites = corpus()
    text, rules = rng.choice(tests)
    assert_sound(fuzzing.check_tests(fuzzing.mutate_tests(rng, text, vocabulary), suites[rules],
                                     LIMIT))


@settings(FAST, max_examples=100)
@given(st.randoms(use_true_random=False), st.sampled_from(["leads", "events"]),
       st.sampled_from(["csv", "jsonl"]))
def test_malformed_ingest_rows_are_rejected_with_their_place(rng, kind, fmt):
    bundled = corpus()[3]
    data = fuzzing.ingest_batch(rng, kind, fmt, 20)
    assert_sound(fuzzing.check_rows(data, kind, fmt, bundled, LIMIT))


def test_the_oracle_catches_what_it_is_for():
    """A harness that finds nothing proves little unless it would find something."""
    leads = corpus()[2]
    assert fuzzing.check_rules("events a\nwhen a then +1\n", leads) is None
    crash = fuzzing._Trial("x")
    crash.run("check", "exception", lambda: int("9" * 5000))
    assert (crash.finding.kind, crash.finding.stage) == ("exception", "check")
    assert crash.finding.error.startswith("ValueError: Exceeds the limit (4300 digits)")
    with pytest.raises(fuzzing.Hang):
        with fuzzing.time_limit(0.05):
            while True:
                pass
