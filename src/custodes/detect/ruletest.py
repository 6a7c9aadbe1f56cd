"""Rule fixtures: a few events a rule must (or must not) find something in, and the check.

A rule's fixtures live beside its module, one directory each (as Panther keeps a rule's tests
beside it, and Sigma's users keep sample logs beside theirs)::

    rules/
      my_rule.py
      fixtures/<rule id>/<fixture name>/
        access.jsonl          events, one JSON object a line, in the contract's columns
        issuance.jsonl        ... one file per dataset the fixture feeds
        expect.yaml           what the rule must find there (an empty list: nothing)

Each fixture is run in a throwaway workspace, through the real ingest (so the lake's parsing,
defaults and validation apply exactly as to an operator's files), then the one rule is run
over it as ``custodes detect --full`` would, and its findings are compared with
``expect.yaml``: every expected finding must be there and nothing else. A fixture with a row
the lake quarantined fails too: a negative fixture whose suspicious row never loaded would
pass for the wrong reason.
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from custodes import contract
from custodes.detect.rule import Rule
from custodes.errors import CustodesError
from custodes.workspace import Workspace
from custodes.yamlfile import load_yaml

FIXTURES_DIR = "fixtures"
EXPECT_FILE = "expect.yaml"
EVENTS_SUFFIX = ".jsonl"


class ExpectedFinding(BaseModel):
    """One finding the rule must produce. Only what is given is compared: ``entities`` lists
    (order aside) and ``evidence`` values must equal the finding's."""

    model_config = ConfigDict(extra="forbid")

    severity: Literal["info", "low", "medium", "high", "critical"] | None = None
    window: str | None = None  # the UTC day YYYY-MM-DD, or "posture"
    title: str | None = None
    entities: dict[str, list[str]] = {}
    evidence: dict[str, int | float | str | None] = {}


class Expect(BaseModel):
    """``expect.yaml``: the findings of the rule in the fixture's events, all of them."""

    model_config = ConfigDict(extra="forbid")

    description: str = ""
    config: dict[str, Any] = {}  # the ``detect`` settings of custodes.yaml for this fixture
    findings: list[ExpectedFinding]


@dataclass(frozen=True)
class Fixture:
    rule_id: str
    name: str
    path: Path
    datasets: dict[str, Path]
    expect: Expect

    @property
    def label(self) -> str:
        return f"{self.rule_id}/{self.name}"


@dataclass
class Outcome:
    """One fixture's verdict. ``missing``: expected findings not produced; ``unexpected``:
    findings produced that nothing expected; ``problems``: why it could not be judged."""

    rule_id: str
    fixture: str
    path: str
    missing: list[dict] = field(default_factory=list)
    unexpected: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    found: int = 0

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.problems)

    def to_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok}


# Which rules, which fixtures ---------------------------------------------------------------------
def builtin_folder() -> Path:
    import custodes.detect.rules as package

    return Path(package.__file__).parent


@dataclass
class Suite:
    """Rules and the fixtures found beside them."""

    rules: list[Rule]
    fixtures: list[Fixture]

    def select(self, ids: tuple[str, ...] | list[str]) -> Suite:
        """Only the rules named (and their fixtures); an unknown id is an error."""
        if not ids:
            return self
        known = {r.id for r in self.rules}
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise CustodesError(f"no rule {', '.join(unknown)}; known rules: {', '.join(sorted(known))}")
        return Suite([r for r in self.rules if r.id in ids], [f for f in self.fixtures if f.rule_id in ids])

    def untested(self) -> list[str]:
        tested = {f.rule_id for f in self.fixtures}
        return [r.id for r in self.rules if r.id not in tested]

    def run(self, backend: str = "duckdb", progress=None) -> list[Outcome]:
        """Every fixture's outcome; a fixture whose directory names no rule fails (a typo in
        it would otherwise leave the rule untested while the suite passes)."""
        by_id = {r.id: r for r in self.rules}
        outcomes = []
        for fixture in self.fixtures:
            rule = by_id.get(fixture.rule_id)
            if rule is None:
                outcome = Outcome(fixture.rule_id, fixture.name, str(fixture.path),
                                  problems=[f"{fixture.path}: no rule {fixture.rule_id} beside it"])
            else:
                outcome = run_fixture(rule, fixture, backend)
            if progress:
                progress(outcome)
            outcomes.append(outcome)
        return outcomes


def load_rules(rules_dir: Path | None = None, workspace: Workspace | None = None) -> tuple[list[Rule], list[Path]]:
    """The built-in rules and the workspace's own (``detect.rules_dir``), or, given
    ``rules_dir``, only the rules of that folder; with the folders their fixtures are in."""
    from custodes.detect.registry import all_rules, checked, operator_rules_dir, rules_from_folder

    if rules_dir is not None:
        return checked([(cls, str(rules_dir)) for cls in rules_from_folder(Path(rules_dir))]), [Path(rules_dir)]
    folders = [builtin_folder(), operator_rules_dir(workspace)]
    return all_rules(workspace), [f for f in folders if f is not None]


def load_suite(rules_dir: Path | None = None, workspace: Workspace | None = None) -> Suite:
    """:func:`load_rules`, each with the fixtures beside it."""
    rules, folders = load_rules(rules_dir, workspace)
    return Suite(rules, [f for folder in folders for f in fixtures_in(folder)])


# Reading fixtures -------------------------------------------------------------------------------
def fixtures_in(rules_folder: Path) -> list[Fixture]:
    """Every fixture under ``rules_folder/fixtures``, sorted by rule id and name. A fixture
    that cannot be read is an error naming its file: a test silently skipped passes nothing."""
    root = Path(rules_folder) / FIXTURES_DIR
    if not root.is_dir():
        return []
    found = []
    for rule_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for case in sorted(p for p in rule_dir.iterdir() if p.is_dir()):
            found.append(read_fixture(rule_dir.name, case))
    return found


def read_fixture(rule_id: str, case: Path) -> Fixture:
    datasets, expect_path = {}, None
    for path in sorted(case.iterdir()):
        if path.name == EXPECT_FILE:
            expect_path = path
        elif path.suffix == EVENTS_SUFFIX and path.stem in contract.DATASETS:
            datasets[path.stem] = path
        else:
            raise CustodesError(f"{path}: not part of a fixture; expected {EXPECT_FILE} and "
                                f"<dataset>{EVENTS_SUFFIX} files ({', '.join(contract.DATASET_NAMES)})")
    if expect_path is None:
        raise CustodesError(f"{case}: fixture without {EXPECT_FILE} (what must the rule find here?)")
    return Fixture(rule_id, case.name, case, datasets, read_expect(expect_path))


def read_expect(path: Path) -> Expect:
    data = load_yaml(path, "fixture expectation")
    try:
        return Expect.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "top level"
        raise CustodesError(f"{path}: {where}: {err['msg']}") from None


# Running ----------------------------------------------------------------------------------------
def run_fixture(rule: Rule, fixture: Fixture, backend: str = "duckdb") -> Outcome:
    """Ingest the fixture's events into a throwaway workspace, run ``rule`` over all of it,
    and compare its findings with the fixture's expectation."""
    outcome = Outcome(fixture.rule_id, fixture.name, str(fixture.path))
    outcome.problems += _config_problems(rule, fixture)
    if outcome.problems:
        return outcome
    with tempfile.TemporaryDirectory(prefix="custodes-ruletest-") as tmp:
        ws = Workspace.open(Path(tmp) / "ws")
        outcome.problems += _load(ws, fixture)
        if outcome.problems:
            return outcome
        found, problems = _evaluate(ws, rule, fixture.expect.config, backend)
    outcome.problems += problems
    outcome.found = len(found)
    expected = fixture.expect.findings
    missing, unexpected = _unmatched(expected, found)
    outcome.missing = [_shown_expected(expected[i]) for i in missing]
    outcome.unexpected = [_shown(found[i]) for i in unexpected]
    return outcome


def _config_problems(rule: Rule, fixture: Fixture) -> list[str]:
    """The fixture's ``config`` checked as custodes.yaml's ``detect:`` is (custodes.config): a
    misspelt threshold would leave the default in force and test something else than it says."""
    from custodes.config import check_detect

    return [f"{fixture.path / EXPECT_FILE}: config: {p.text}"
            for p in check_detect(fixture.expect.config, rule.parameters)]


def _load(ws: Workspace, fixture: Fixture) -> list[str]:
    """Ingest every events file; returns the problems (a file that failed, quarantined rows)."""
    from custodes.lake import ingest, quarantined

    if "access" not in fixture.datasets:
        return [f"{fixture.path}: no access.jsonl: the latest access event is the run's data-time "
                "now, so every fixture needs at least one"]
    problems = []
    for dataset, path in fixture.datasets.items():
        try:
            ingest(ws, dataset, [path], fmt="jsonl")
        except CustodesError as exc:
            problems.append(str(exc))
    for row in quarantined(ws).to_pylist():
        problems.append(f"{row['file']}:{row['row']}: {row['column']}: quarantined ({row['reason']}), "
                        f"so the rule never saw it")
    return problems


def _evaluate(ws: Workspace, rule: Rule, config: dict, backend: str) -> tuple[list[dict], list[str]]:
    from custodes.detect.run import evaluate
    from custodes.engine import connect

    notes: list[str] = []
    try:
        with connect(ws, backend) as engine:
            found = evaluate(engine, [rule], config=config, notify=notes.append)
    except CustodesError as exc:
        return [], [str(exc)]
    except Exception as exc:  # an author's rule under test: report its failure, never a traceback
        return [], [f"rule {rule.id} failed: {type(exc).__name__}: {' '.join(str(exc).split())[:500]}"]
    return found, notes


# Comparing --------------------------------------------------------------------------------------
def matches(expected: ExpectedFinding, finding: dict) -> bool:
    for name in ("severity", "window", "title"):
        want = getattr(expected, name)
        if want is not None and finding.get(name) != want:
            return False
    for key, values in expected.entities.items():
        if sorted(set(values)) != sorted(set(finding["entities"].get(key, []))):
            return False
    return all(finding["evidence"].get(key) == value for key, value in expected.evidence.items())


def _unmatched(expected: list[ExpectedFinding], found: list[dict]) -> tuple[list[int], list[int]]:
    """Indexes of expected findings left without a finding, and of findings left without an
    expectation, after pairing them one to one as far as possible (bipartite matching: two
    expectations that fit the same finding must not both count it)."""
    owner: dict[int, int] = {}  # finding index -> expected index

    def place(e: int, tried: set[int]) -> bool:
        for f in range(len(found)):
            if f not in tried and matches(expected[e], found[f]):
                tried.add(f)
                if f not in owner or place(owner[f], tried):
                    owner[f] = e
                    return True
        return False

    placed = {e for e in range(len(expected)) if place(e, set())}
    return ([e for e in range(len(expected)) if e not in placed],
            [f for f in range(len(found)) if f not in owner])


def _shown(finding: dict) -> dict:
    """A finding as a fixture author would write it in expect.yaml."""
    return {"severity": finding["severity"], "window": finding.get("window"), "title": finding["title"],
            "entities": {k: v for k, v in finding["entities"].items() if v},
            "evidence": finding["evidence"]}


def _shown_expected(expected: ExpectedFinding) -> dict:
    return expected.model_dump(exclude_defaults=True)
