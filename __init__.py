"""leadrules: lead scoring and funnel rules as readable text, over an SQLite event store.

The names a script needs, importable from here (docs/api.md has a runnable example):

    load(path) -> Ruleset               read, parse and check a rule file (RulesError if bad)
    analyze(text, path) -> Analysis     parse and check rule text, keeping every diagnostic
    compile_ruleset(ruleset)            the rules as functions, compiled once
    Store(path)                         open (or create) an event store
    ingest(store, leads=, events=)      import lead and event files into it
    run_rules(store, rules, as_of)      score every lead of the store and save the run
    evaluate(rules, lead_id, profile, events, as_of)   one lead's result, nothing stored
    Event, parse_timestamp, format_timestamp           events and their times
    ruleset_path(), sample_paths()                     the bundled ruleset and demo sample
    LeadrulesError, RulesError, UsageError             the errors, under one root

Each is imported on first use, so that `import leadrules` (and so the `leadrules` command)
starts without the parser, the store or the evaluator.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_PUBLIC = {
    "load": "leadrules.dsl",
    "analyze": "leadrules.dsl",
    "Analysis": "leadrules.dsl",
    "Ruleset": "leadrules.dsl",
    "LeadrulesError": "leadrules.dsl.errors",
    "RulesError": "leadrules.dsl.errors",
    "UsageError": "leadrules.dsl.errors",
    "compile_ruleset": "leadrules.engine.scoring.compiler",
    "CompiledRuleset": "leadrules.engine.scoring.compiler",
    "evaluate": "leadrules.engine.scoring.evaluate",
    "LeadResult": "leadrules.engine.scoring.evaluate",
    "run_rules": "leadrules.engine.scoring.run",
    "Store": "leadrules.engine.store.store",
    "ingest": "leadrules.engine.store.ingest",
    "Event": "leadrules.engine.events",
    "parse_timestamp": "leadrules.engine.events",
    "format_timestamp": "leadrules.engine.events",
    "ruleset_path": "leadrules.engine.bundled",
    "sample_paths": "leadrules.engine.bundled",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'leadrules' has no attribute {name!r}")
    value = getattr(importlib.import_module(_PUBLIC[name]), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_PUBLIC})
