"""What a rule change does: the statements that changed, matched by meaning, and every lead's
results under both rulesets, counted, tabulated and explained by a few examples.

One pass over the leads replays both rulesets per lead; only the example leads are replayed
again, traced, to say why they changed. Renderers for text, markdown and JSON are in
engine/diff_render.py.
"""

from __future__ import annotations

import contextlib
import re
import statistics
from bisect import bisect_left, insort
from collections import Counter
from decimal import Decimal
from typing import Callable, Iterable, Mapping

import attrs

from leadrules.dsl import ast
from leadrules.dsl.errors import UsageError
from leadrules.dsl.format import write
from leadrules.engine.backtest.outcomes import Outcomes, Reached
from leadrules.engine.backtest.report import Backtest, backtest
from leadrules.engine.backtest.scored import Collector
from leadrules.engine.events import format_timestamp
from leadrules.engine.scoring.compiler import (
    DISQUALIFIED,
    CompiledRuleset,
    RuleRef,
    compile_ruleset,
)
from leadrules.engine.scoring.evaluate import replay
from leadrules.engine.scoring.results import LeadResult, PointChange
from leadrules.engine.scoring.spans import default_workers, over_spans, worth_forking
from leadrules.engine.store.store import Store

# --- statements, matched by meaning ------------------------------------------------------------

# What a statement is about, so that it is found in the other file when its content changed:
# the same kind and identity with other content is "changed"; anything else unmatched is added
# or removed. Declarations that stand once per file are identified by their kind alone.
IDENTITY: dict[type, Callable[[object], tuple]] = {
    ast.RulesetName: lambda s: (),
    ast.EventsDecl: lambda s: (),
    ast.ActivityExcludes: lambda s: (),
    ast.FieldsDecl: lambda s: (),
    ast.StagesDecl: lambda s: (),
    ast.BantDecl: lambda s: (),
    ast.ScoreBounds: lambda s: (),
    ast.ScoreRule: lambda s: (s.event, s.where),
    ast.InactivityRule: lambda s: (s.quiet,),
    ast.FitRule: lambda s: (s.cond,),
    ast.Classify: lambda s: (s.kind, s.value),
    ast.Disqualify: lambda s: (s.reason,),
    ast.StageMove: lambda s: (s.source, s.target),
    ast.OnEntering: lambda s: (s.stage, s.action),
    ast.Sla: lambda s: (s.stage,),
    ast.Goal: lambda s: (s.name,),
}


def identity(statement) -> tuple:
    return (type(statement), *IDENTITY[type(statement)](statement))


def _moves_groups(statement: ast.StageMove, sources: list[str]) -> list[str]:
    """A move is tried among the moves out of its source; a `*` move among those of every stage."""
    if statement.source is not None:
        return [f"moves out of {statement.source.text}"]
    return [*(f"moves out of {s}" for s in sources), "moves out of *"]


# Lists where the first line that holds decides (or, for `on entering`, where `otherwise`
# depends on the lines above): a change of their relative order changes the meaning.
ORDERED: dict[type, Callable[[object, list[str]], list[str]]] = {
    ast.Classify: lambda s, sources: [f"{s.kind} lines"],
    ast.Disqualify: lambda s, sources: ["disqualify lines"],
    ast.StageMove: _moves_groups,
    ast.OnEntering: lambda s, sources: [f"on entering {s.stage.text} lines"],
}

# Declarations of lists of names: (keyword, attribute), to say which names changed.
_LISTS = {ast.EventsDecl: ("events", "names"), ast.ActivityExcludes: ("activity excludes", "names"),
          ast.StagesDecl: ("stages", "names"), ast.FieldsDecl: ("fields", "fields")}


@attrs.frozen
class RulePair:
    """A statement of OLD and its counterpart in NEW; `old` is None for an added statement,
    `new` for a removed one. `reordered` names the first-match list whose order changed around
    it, for statements that moved within one."""

    status: str  # unchanged, changed, reordered, added, removed
    old: object | None
    new: object | None
    reordered: str | None = None

    @property
    def old_line(self) -> int | None:
        return _line(self.old)

    @property
    def new_line(self) -> int | None:
        return _line(self.new)

    @property
    def old_text(self) -> str | None:
        return None if self.old is None else statement_text(self.old)

    @property
    def new_text(self) -> str | None:
        return None if self.new is None else statement_text(self.new)

    @property
    def detail(self) -> str | None:
        """For a changed list declaration (events, fields, stages): the names that changed."""
        if self.status != "changed" or type(self.old) not in _LISTS:
            return None
        keyword, field = _LISTS[type(self.old)]
        before = [write(n) for n in getattr(self.old, field)]
        after = [write(n) for n in getattr(self.new, field)]
        added = [n for n in after if n not in before]
        removed = [n for n in before if n not in after]
        parts = [f"added {', '.join(added)}"] if added else []
        parts += [f"removed {', '.join(removed)}"] if removed else []
        if not parts:
            parts = [f"order now {', '.join(after)}"]
        return f"{keyword}: {'; '.join(parts)}"


def _line(statement) -> int | None:
    return None if statement is None or statement.span is None else statement.span.line


def statement_text(statement) -> str:
    """The canonical text of a statement on one line (declarations unwrapped)."""
    return re.sub(r",\n +", ", ", write(statement))


def match_rules(old: ast.Ruleset, new: ast.Ruleset) -> tuple[RulePair, ...]:
    """Every statement of both rulesets, paired by meaning, in NEW's order (a removed statement
    where it stood, after the statement that came before it in OLD)."""
    olds, news = old.statements, new.statements
    matched = _pair_up(olds, news, lambda s: s, {})
    changed = _pair_up(olds, news, identity, matched)
    pairs = {**matched, **changed}
    moved = _reordered(olds, news, pairs)
    found = []
    for i, statement in enumerate(olds):
        if i in pairs:
            status = ("changed" if i in changed else "reordered" if i in moved else "unchanged")
            found.append((pairs[i], 0, RulePair(status, statement, news[pairs[i]],
                                                moved.get(i))))
        else:
            anchor = max([pairs[k] for k in range(i) if k in pairs], default=-1)
            found.append((anchor, 1, RulePair("removed", statement, None)))
    taken = set(pairs.values())
    found += [(j, 0, RulePair("added", None, s)) for j, s in enumerate(news) if j not in taken]
    return tuple(pair for *_, pair in sorted(found, key=lambda f: f[:2]))


def _pair_up(olds, news, key, paired: dict[int, int]) -> dict[int, int]:
    """Old index -> new index for statements with equal keys not paired yet, in file order."""
    free: dict = {}
    taken = set(paired.values())
    for j, statement in enumerate(news):
        if j not in taken:
            free.setdefault(key(statement), []).append(j)
    found = {}
    for i, statement in enumerate(olds):
        if i not in paired and free.get(key(statement)):
            found[i] = free[key(statement)].pop(0)
    return found


def _reordered(olds, news, pairs: dict[int, int]) -> dict[int, str]:
    """Old index -> list name, for paired statements whose place among the other paired
    statements of a first-match list changed: those off the longest run kept in order."""
    sources = sorted({m.source.text for m in (*olds, *news)
                      if isinstance(m, ast.StageMove) and m.source is not None})
    groups: dict[str, list[int]] = {}
    for i in sorted(pairs):
        groups_of = ORDERED.get(type(olds[i]))
        for name in groups_of(olds[i], sources) if groups_of else ():
            groups.setdefault(name, []).append(i)
    moved: dict[int, str] = {}
    for name, members in sorted(groups.items()):
        by_new = sorted(members, key=pairs.__getitem__)
        kept = set(_longest_increasing(by_new))
        for i in by_new:
            if i not in kept:
                moved.setdefault(i, name)
    return moved


def _longest_increasing(values: list[int]) -> list[int]:
    """A longest strictly increasing subsequence (patience sorting)."""
    tails: list[int] = []  # positions in `values` of the smallest tail of each length
    before: list[int | None] = []
    for k, value in enumerate(values):
        at = bisect_left(tails, value, key=values.__getitem__)
        before.append(tails[at - 1] if at else None)
        tails[at:at + 1] = [k]
    found, k = [], tails[-1] if tails else None
    while k is not None:
        found.append(values[k])
        k = before[k]
    return found[::-1]


# --- the two rulesets ---------------------------------------------------------------------------

@attrs.frozen
class Pair:
    """OLD and NEW, parsed and compiled, with their statements matched."""

    old: ast.Ruleset
    new: ast.Ruleset
    old_rules: CompiledRuleset
    new_rules: CompiledRuleset
    rules: tuple[RulePair, ...]

    @classmethod
    def of(cls, old: ast.Ruleset, new: ast.Ruleset) -> Pair:
        return cls(old, new, compile_ruleset(old), compile_ruleset(new), match_rules(old, new))

    @property
    def used(self) -> frozenset[str]:
        """The event types either ruleset reacts to: the only ones the leads' rows need."""
        return self.old_rules.used | self.new_rules.used

    def stage_order(self) -> list[str]:
        """OLD's stages in order, NEW's own stages after the stage they follow in NEW."""
        order = list(self.old_rules.stages or (self.old_rules.first_stage,))
        after = None
        for stage in self.new_rules.stages or (self.new_rules.first_stage,):
            if stage not in order:
                order.insert(order.index(after) + 1 if after is not None else 0, stage)
            after = stage
        return order


# --- leads --------------------------------------------------------------------------------------

FIELDS = ("score", "fit", "grade", "band", "priority", "stage", "disqualified", "label", "owner")
KINDS = ("score_up", "score_down", "stage_changed", "newly_disqualified",
         "no_longer_disqualified", "entered_sales", "left_sales")
# Score changes are counted in these buckets of points, (low, high) inclusive.
BUCKETS = ((None, -50), (-49, -20), (-19, -10), (-9, -1), (1, 9), (10, 19), (20, 49), (50, None))


@attrs.frozen
class ScoreShift:
    """How the scores that changed moved: counts up and down, extremes, median, histogram."""

    up: int
    down: int
    min: int
    median: int | float
    max: int
    buckets: tuple[tuple[str, int], ...]  # (label, leads), the empty buckets left out

    @classmethod
    def of(cls, deltas: list[int]) -> ScoreShift | None:
        if not deltas:
            return None
        counts = Counter(_bucket(d) for d in deltas)
        median = statistics.median(deltas)
        return cls(sum(d > 0 for d in deltas), sum(d < 0 for d in deltas), min(deltas),
                   int(median) if median == int(median) else median, max(deltas),
                   tuple((label, counts[label]) for label in map(_bucket_label, BUCKETS)
                         if counts[label]))


def _bucket(delta: int) -> str:
    return next(_bucket_label(b) for b in BUCKETS
                if (b[0] is None or delta >= b[0]) and (b[1] is None or delta <= b[1]))


def _bucket_label(bucket: tuple[int | None, int | None]) -> str:
    low, high = bucket
    if low is None:
        return f"{high:+d} or less"
    return f"{low:+d} or more" if high is None else f"{low:+d} .. {high:+d}"


@attrs.frozen
class Sales:
    """Leads that newly reach sales (`stage` and every stage after it) or leave it. A side
    without that stage is None: no lead is in sales there."""

    stage: str
    old: tuple[str, ...] | None
    new: tuple[str, ...] | None
    entries: int = 0
    exits: int = 0

    @property
    def known(self) -> bool:
        return self.old is not None or self.new is not None


@attrs.frozen
class Quoted:
    """A rule's text inside a reason; each format quotes it its own way."""

    text: str


@attrs.frozen
class Example:
    """One lead that changed, and why, in words and rule texts."""

    kind: str
    lead_id: str
    old: LeadResult
    new: LeadResult
    reason: tuple  # str and Quoted parts

    @property
    def summary(self) -> str:
        old, new = self.old, self.new
        if self.kind in ("score_up", "score_down"):
            return f"score {old.score} → {new.score} ({new.score - old.score:+d})"
        if self.kind == "newly_disqualified":
            return f"disqualified \"{new.disqualified}\" (was {old.stage})"
        if self.kind == "no_longer_disqualified":
            return f"no longer disqualified (was \"{old.disqualified}\"), now {new.stage}"
        return f"stage {old.stage} → {new.stage}"


@attrs.frozen
class DiffReport:
    """Everything `leadrules diff` reports."""

    old_name: str
    new_name: str
    old_title: str
    new_title: str
    source: str  # where the leads came from, in words
    as_of: int
    as_of_source: str
    rules: tuple[RulePair, ...]
    compared: int
    changed: Mapping[str, int]  # FIELDS, and "any": leads with some field changed
    score: ScoreShift | None
    disqualified: Mapping[str, int]  # newly, no_longer, other_reason
    stages: tuple[str, ...]  # the table's order: every stage that occurs, Disqualified last
    moves: Mapping[tuple[str, str], int]  # (old stage, new stage) -> leads
    sales: Sales
    examples: Mapping[str, tuple[Example, ...]]
    outcomes: Backtest | None = None  # with --outcomes or a time split: OLD's and NEW's figures

    def rule_changes(self) -> list[RulePair]:
        return [p for p in self.rules if p.status != "unchanged"]

    def metrics(self) -> dict[str, int | float | None]:
        """What `--fail-on` can test, by name."""
        found: dict = {f"{name}_changes": self.changed[name] for name in FIELDS}
        found.update(sales_entries=self.sales.entries, sales_exits=self.sales.exits,
                     changed_leads=self.changed["any"])
        if self.outcomes is not None:
            old, new = (side.auc for side in self.outcomes.sides)
            found.update(auc=new, auc_drop=None if old is None or new is None else old - new)
        return found


def compare(pair: Pair, leads: Iterable[tuple[str, Mapping, list]], as_of: int, *,
            source: str, as_of_source: str, examples: int = 3, sales_from: str = "SalesLead",
            progress: Callable[[int], None] | None = None,
            outcome: Outcomes | Reached | None = None, last_event: int | None = None
            ) -> DiffReport:
    """Replay every lead (lead_id, profile, rows in replay order) under both rulesets as of
    `as_of` and report what differs; `progress(n)` after each n leads. With an `outcome`, the
    back-test figures of both sides too, with `sales_from` as the hand-over stage."""
    tally = _Tally(pair, sales_from, examples, _keeper(pair, sales_from, outcome))
    done, last = 0, None
    for lead_id, profile, rows in leads:
        tally.compare(lead_id, profile, rows, as_of)
        done += 1
        if rows and (last is None or rows[-1][1] > last):
            last = rows[-1][1]
        if progress and done % 1000 == 0:
            progress(1000)
    if progress and done % 1000:
        progress(done % 1000)
    return _report(tally, as_of, source, as_of_source, outcome,
                   last if last_event is None else last_event)


def compare_store(pair: Pair, store: Store, as_of: int, *, source: str, as_of_source: str,
                  examples: int = 3, sales_from: str = "SalesLead", workers: int | None = None,
                  progress: Callable[[int], None] | None = None,
                  outcome: Outcomes | Reached | None = None) -> DiffReport:
    """`compare` of every lead of a store; a large store is split over `workers` processes
    (default: one per core, at most 4), like a full run."""
    workers = default_workers() if workers is None else workers
    last = store.counts().last_ts
    if not worth_forking(store, store.lead_count(), workers):
        return compare(pair, store.iter_lead_rows(types=pair.used), as_of, source=source,
                       as_of_source=as_of_source, examples=examples, sales_from=sales_from,
                       progress=progress, outcome=outcome, last_event=last)
    keep = _keeper(pair, sales_from, outcome)
    tally = _Tally(pair, sales_from, examples, keep)
    with contextlib.ExitStack() as stack:
        for part in over_spans(store, _compare_span, (pair, as_of, sales_from, examples, keep),
                               workers, stack):
            tally.merge(part)
            if progress:
                progress(part.compared)
    return _report(tally, as_of, source, as_of_source, outcome, last)


def _compare_span(store: Store, span: tuple, job: tuple) -> _Tally:
    pair, as_of, sales_from, examples, keep = job
    tally = _Tally(pair, sales_from, examples, None if keep is None else keep.empty())
    for lead_id, profile, rows in store.iter_lead_rows(types=pair.used, span=span):
        tally.compare(lead_id, profile, rows, as_of)
    return tally


def _keeper(pair: Pair, sales_from: str, outcome: Outcomes | Reached | None
            ) -> Collector | None:
    """What keeps both sides' results for a back-test, when there are outcomes."""
    if outcome is None:
        return None
    sides = (pair.old_rules, pair.new_rules)
    handover = sales_from if any(sales_from in rules.stages for rules in sides) else None
    return Collector(sides, handover, outcome if isinstance(outcome, Reached) else None)


def _report(tally: _Tally, as_of: int, source: str, as_of_source: str,
            outcome: Outcomes | Reached | None = None, last_event: int | None = None
            ) -> DiffReport:
    pair = tally.pair
    measured = None if tally.keep is None else backtest(
        tally.keep, outcome, source=source, as_of=as_of, as_of_source=as_of_source,
        last_event=last_event)
    return DiffReport(
        old_name=pair.old.path, new_name=pair.new.path, old_title=pair.old_rules.name,
        new_title=pair.new_rules.name, source=source, as_of=as_of, as_of_source=as_of_source,
        rules=pair.rules, compared=tally.compared, changed={**tally.changed},
        score=ScoreShift.of(tally.deltas),
        disqualified={"newly": tally.kinds["newly_disqualified"],
                      "no_longer": tally.kinds["no_longer_disqualified"],
                      "other_reason": tally.kinds["other_reason"]},
        stages=tally.stages(), moves=dict(sorted(tally.moves.items())),
        sales=attrs.evolve(tally.sales, entries=tally.kinds["entered_sales"],
                           exits=tally.kinds["left_sales"]),
        examples=tally.examples(as_of), outcomes=measured)


class _Tally:
    """Counts over the leads compared so far, and the best example candidates of each kind."""

    def __init__(self, pair: Pair, sales_from: str, examples: int, keep: Collector | None = None):
        self.pair, self.limit, self.keep = pair, examples, keep
        self.order = pair.stage_order()
        self.sales = Sales(sales_from, _sales_stages(pair.old_rules, sales_from),
                           _sales_stages(pair.new_rules, sales_from))
        self.compared = 0
        self.changed = dict.fromkeys(("any", *FIELDS), 0)
        self.kinds: Counter = Counter()  # leads per kind of change (KINDS, and other_reason)
        self.deltas: list[int] = []
        self.moves: Counter = Counter()
        self.best: dict[str, list] = {kind: [] for kind in KINDS}

    def compare(self, lead_id: str, profile: Mapping, rows: list, as_of: int) -> None:
        """Replay one lead under both rulesets and count the difference."""
        old = replay(self.pair.old_rules, lead_id, profile, rows, as_of)
        new = replay(self.pair.new_rules, lead_id, profile, rows, as_of)
        self.add(lead_id, profile, rows, old, new)
        if self.keep is not None:
            self.keep.offer(lead_id, profile, rows, (old, new))

    def merge(self, other: _Tally) -> None:
        """Add the counts and example candidates of another part of the leads."""
        self.compared += other.compared
        for name, count in other.changed.items():
            self.changed[name] += count
        self.kinds += other.kinds
        self.deltas += other.deltas
        self.moves += other.moves
        if self.keep is not None:
            self.keep.merge(other.keep)
        for kind, best in other.best.items():
            for (size, lead_id), payload in best:
                self._offer(kind, -size, lead_id, payload)

    def __getstate__(self) -> dict:
        """What a worker process sends back: no compiled rules (closures do not pickle), and
        results without the lines that gave grade, band and label (they hold closures too)."""
        state = {**self.__dict__, "pair": None}
        state["best"] = {kind: [(key, (profile, rows, attrs.evolve(old, because={}),
                                       attrs.evolve(new, because={})))
                                for key, (profile, rows, old, new) in best]
                         for kind, best in self.best.items()}
        return state

    def add(self, lead_id: str, profile: Mapping, rows: list, old: LeadResult,
            new: LeadResult) -> None:
        self.compared += 1
        self.moves[old.stage, new.stage] += 1
        differs = [name for name in FIELDS if getattr(old, name) != getattr(new, name)]
        if not differs:
            return
        self.changed["any"] += 1
        for name in differs:
            self.changed[name] += 1
        delta = new.score - old.score
        if delta:
            self.deltas.append(delta)
        for kind in self._kinds(old, new, delta):
            self.kinds[kind] += 1
            if kind in self.best:
                self._offer(kind, self._size(kind, old, new, delta), lead_id,
                            (profile, rows, old, new))

    def _kinds(self, old: LeadResult, new: LeadResult, delta: int) -> list[str]:
        """The kinds of change of one lead: KINDS, and `other_reason` for a lead disqualified
        under both rulesets for different reasons."""
        kinds = ["score_up"] if delta > 0 else ["score_down"] if delta < 0 else []
        if old.stage != new.stage:
            kinds.append("stage_changed")
        if old.disqualified != new.disqualified:
            kinds.append("newly_disqualified" if old.disqualified is None else
                         "no_longer_disqualified" if new.disqualified is None else "other_reason")
        was, now = old.stage in (self.sales.old or ()), new.stage in (self.sales.new or ())
        if was != now:
            kinds.append("entered_sales" if now else "left_sales")
        return kinds

    def _size(self, kind: str, old: LeadResult, new: LeadResult, delta: int) -> int:
        """How large a change is, to show the largest first."""
        if kind == "stage_changed":
            return abs(self._place(new.stage) - self._place(old.stage))
        return abs(delta)

    def _place(self, stage: str) -> int:
        return self.order.index(stage) if stage in self.order else len(self.order)

    def _offer(self, kind: str, size: int, lead_id: str, payload: tuple) -> None:
        """Keep the `limit` largest changes of a kind, ties by lead_id."""
        best, key = self.best[kind], (-size, lead_id)
        if len(best) < self.limit or (best and key < best[-1][0]):
            insort(best, (key, payload), key=lambda item: item[0])
            del best[self.limit:]

    def stages(self) -> tuple[str, ...]:
        seen = {stage for pair in self.moves for stage in pair}
        order = [s for s in self.order if s in seen]
        order += sorted(seen - set(order) - {DISQUALIFIED})
        return tuple(order + [DISQUALIFIED] * (DISQUALIFIED in seen))

    def examples(self, as_of: int) -> dict[str, tuple[Example, ...]]:
        traced: dict[str, tuple[LeadResult, LeadResult]] = {}
        found = {}
        for kind, best in self.best.items():
            found[kind] = tuple(
                Example(kind, lead_id, old, new,
                        _reason(kind, self.pair, *self._traced(traced, lead_id, payload, as_of)))
                for (_, lead_id), (*payload, old, new) in best)
        return found

    def _traced(self, cache: dict, lead_id: str, payload: list, as_of: int) -> tuple:
        if lead_id not in cache:
            profile, rows = payload
            cache[lead_id] = tuple(replay(rules, lead_id, profile, rows, as_of, trace=True)
                                   for rules in (self.pair.old_rules, self.pair.new_rules))
        return cache[lead_id]


def _sales_stages(rules: CompiledRuleset, stage: str) -> tuple[str, ...] | None:
    return rules.stages[rules.stages.index(stage):] if stage in rules.stages else None


# --- reasons ------------------------------------------------------------------------------------

class _Rules:
    """A rule of either side by its line, as the pair of statements it belongs to."""

    def __init__(self, pair: Pair):
        self.old = {p.old_line: p for p in pair.rules if p.old is not None}
        self.new = {p.new_line: p for p in pair.rules if p.new is not None}

    def of(self, side: str, rule: RuleRef | None) -> RulePair | None:
        return None if rule is None else (self.old if side == "old" else self.new).get(rule.line)


def _reason(kind: str, pair: Pair, old: LeadResult, new: LeadResult) -> tuple:
    """Why a lead changed: for a score, the rules whose points differ most; for a stage, the
    first move that differs between the two histories."""
    rules = _Rules(pair)
    # A lead disqualified in one history only earned nothing after that: the disqualification
    # is the reason, not each rule's points.
    if kind in ("score_up", "score_down") and old.disqualified == new.disqualified:
        return _points_reason(rules, old, new)
    return _stage_reason(rules, old, new)


def _points_reason(rules: _Rules, old: LeadResult, new: LeadResult, most: int = 2) -> tuple:
    """The rules whose net points (after clamping) differ most between the two histories."""
    before, after = _totals(rules, "old", old), _totals(rules, "new", new)
    differ = sorted((p for p in {*before, *after} if before.get(p, 0) != after.get(p, 0)),
                    key=lambda p: (-abs(after.get(p, 0) - before.get(p, 0)),
                                   p.new_line or 0, p.old_line or 0))
    parts: list = []
    for p in differ[:most]:
        parts += ["; "] if parts else []
        gave, had = _points(after.get(p, 0)), _points(before.get(p, 0))
        if p.status == "added":
            parts += ["new rule ", Quoted(p.new_text), f" gave {gave}"]
        elif p.status == "removed":
            parts += ["removed rule ", Quoted(p.old_text), f" gave {had} before"]
        else:
            parts += [Quoted(p.new_text), f" gave {gave} instead of {had}"]
    if len(differ) > most:
        parts.append(f"; and {len(differ) - most} more")
    return tuple(parts)


def _totals(rules: _Rules, side: str, result: LeadResult) -> dict[RulePair, int | Decimal]:
    """Net points per rule: what each change really added after `score between` clamped it."""
    totals: dict[RulePair, int | Decimal] = {}
    score = 0
    for change in result.history:
        if isinstance(change, PointChange):
            key = rules.of(side, change.rule)
            if key is not None:
                totals[key] = totals.get(key, 0) + change.score - score
            score = change.score
    return totals


def _points(value: int | Decimal) -> str:
    if value == int(value):
        return f"{int(value):+d}" if value else "0"
    return f"{Decimal(value).quantize(Decimal('0.01')).normalize():+f}"


def _stage_reason(rules: _Rules, old: LeadResult, new: LeadResult) -> tuple:
    """The first stage move where the two histories part: the one that took the lead elsewhere
    in NEW, or the one of OLD that no longer happened."""
    before = [rules.of("old", m.rule) for m in old.moves]
    after = [rules.of("new", m.rule) for m in new.moves]
    at = next((k for k, (a, b) in enumerate(zip(before, after)) if a != b),
              min(len(before), len(after)))
    parts: list = []
    if at and old.moves[at - 1].ts != new.moves[at - 1].ts and _on_event(
            after[at] if at < len(after) else before[at] if at < len(before) else None):
        # The same way, at another time: a move on an event depends on the stage it finds.
        move = new.moves[at - 1]
        parts.append(f"reached {move.target} {_when(move.ts)} instead of "
                     f"{_day(old.moves[at - 1].ts)}; ")
    if at < len(after):
        move, p = new.moves[at], after[at]
        parts += _named(p, "new") + [f" took it to {move.target} {_when(move.ts)}"]
    # OLD's move is worth naming when no move of NEW stands in its place, or its rule changed.
    if at < len(before) and (at >= len(after) or getattr(before[at], "status", None) in (
            "removed", "changed")):
        move, p = old.moves[at], before[at]
        parts += ["; "] if at < len(after) else []
        if p is not None and p.status == "removed":
            parts += ["removed rule ", Quoted(p.old_text), f" took it to {move.target} before"]
        elif p is not None and p.status == "changed":
            parts += [Quoted(p.new_text), " (was ", Quoted(p.old_text),
                      f") no longer took it to {move.target}"]
        else:
            parts += _named(p, "old") + [f" no longer took it to {move.target}"]
    # A move whose rule did not change went elsewhere because the points did: say which.
    cause = after[at] if at < len(after) else before[at] if at < len(before) else None
    if new.score != old.score and (cause is None or cause.status in ("unchanged", "reordered")):
        parts += [f"; score {old.score} → {new.score}: ", *_points_reason(rules, old, new, 1)]
    if parts and isinstance(parts[0], str) and parts[0].startswith("; "):  # only the points
        parts[0] = parts[0][2:]
    return tuple(parts)


def _on_event(p: RulePair | None) -> bool:
    statement = None if p is None else p.new if p.new is not None else p.old
    return isinstance(statement, ast.StageMove) and not isinstance(statement.trigger,
                                                                   ast.OnCondition)


def _named(p: RulePair | None, side: str) -> list:
    if p is None:
        return ["a move"]
    if p.status == "added":
        return ["new rule ", Quoted(p.new_text)]
    if p.status == "changed":
        return [Quoted(p.new_text), " (was ", Quoted(p.old_text), ")"]
    return [Quoted(p.new_text if side == "new" else p.old_text)]


def _when(ts: int | None) -> str:
    return "from the start" if ts is None else f"on {_day(ts)}"


def _day(ts: int | None) -> str:
    return "the start" if ts is None else format_timestamp(ts)[:10]


# --- gates --------------------------------------------------------------------------------------

COUNTED = (*(f"{name}_changes" for name in FIELDS), "sales_entries", "sales_exits",
           "changed_leads")
MEASURED = ("auc", "auc_drop")  # of the back-test: NEW's ROC AUC, and OLD's minus NEW's
METRICS = (*COUNTED, *MEASURED)
_OPS = {">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b, "=": lambda a, b: a == b}
_GATE = re.compile(r"\s*([a-z_]+)\s*(>=|<=|>|<|=)\s*(\d+(?:\.\d+)?)\s*(%?)\s*")


@attrs.frozen
class Gate:
    """`--fail-on METRIC OP VALUE`: a count of leads, or a percentage of the leads compared;
    or, with outcomes, NEW's ROC AUC (`auc < 0.70`) or how far it fell (`auc_drop > 0.01`)."""

    metric: str
    op: str
    value: Decimal
    percent: bool

    @classmethod
    def parse(cls, text: str) -> Gate:
        found = _GATE.fullmatch(text)
        if found is None or found[1] not in METRICS:
            what = (f"unknown metric {found[1]!r}" if found else
                    "write METRIC OP VALUE, like 'stage_changes > 5%' or 'sales_exits > 0'")
            raise UsageError(f"--fail-on {text!r}: {what}; metrics: {', '.join(METRICS)}; "
                             f"operators: {' '.join(_OPS)}; a value is a count or a percentage "
                             "of the leads compared, or for auc and auc_drop a number like 0.7")
        if found[1] in MEASURED and found[4]:
            raise UsageError(f"--fail-on {text!r}: {found[1]} is a number from 0 to 1 (like "
                             "0.7), not a percentage")
        return cls(found[1], found[2], Decimal(found[3]), bool(found[4]))

    @property
    def measured(self) -> bool:
        """Whether the gate tests a back-test figure, which needs outcomes."""
        return self.metric in MEASURED

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value}{'%' if self.percent else ''}"

    def holds(self, report: DiffReport) -> bool:
        """Whether the gate's condition is true; an AUC that cannot be computed (no converted
        leads, or no others) holds, so that a CI gate never passes unmeasured."""
        value = report.metrics()[self.metric]
        if self.measured:
            return value is None or _OPS[self.op](Decimal(repr(value)), self.value)
        measured = _share(value, report.compared) if self.percent else value
        return _OPS[self.op](measured, self.value)

    def describe(self, report: DiffReport) -> str:
        if self.measured:
            old, new = (side.auc for side in report.outcomes.sides)
            if old is None or new is None:
                return (f"fail-on: {self} holds: the AUC cannot be computed: the measured leads "
                        "need converted ones and others")
            if self.metric == "auc":
                return f"fail-on: {self} holds: NEW's AUC is {new:.3f} (OLD's {old:.3f})"
            return (f"fail-on: {self} holds: AUC {old:.3f} (old) → {new:.3f} (new), "
                    f"a drop of {old - new:.3f}")
        count = report.metrics()[self.metric]
        return (f"fail-on: {self} holds: {count:,} of {report.compared:,} leads "
                f"({_share(count, report.compared):.1f}%)")


def check_gates(gates: Iterable[Gate], outcomes: bool) -> None:
    """Refuse AUC gates without outcomes to measure them with."""
    for gate in gates:
        if gate.measured and not outcomes:
            raise UsageError(f"--fail-on '{gate}' needs outcomes: --outcomes FILE, or --outcome "
                             "'reached STAGE within N days' with --as-of")


def _share(count: int, total: int) -> Decimal:
    return Decimal(100 * count) / total if total else Decimal(0)
