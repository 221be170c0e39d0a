"""The mutation check: does the suite catch bugs, not just run the code?

    scripts/mutants [all|pure|curated] [--jobs N] [--keep] [--modules _summary,_window,...]
                    [--survivors]

``pure`` runs mutmut (configured in pyproject.toml, ``[tool.mutmut]``) over the modules that
need no network: the verdict rules and summary, policy, window, registry, records, gateway
facts and signals. mutmut copies ``src/failover_verify`` to ``mutants/`` and runs each mutant
against only the offline tests that reach the mutated function. The score per module and
overall is killed / total (a time-out counts as killed, as mutmut counts it); survivors are
listed with the line they change, those in ``scripts/mutants-equivalent.txt`` marked as
equivalent (no behaviour can tell them apart) with the reason. ``--keep`` reuses mutmut's
cache in ``mutants/`` instead of starting afresh (quicker, for working on survivors).
``--modules`` runs and scores only the mutants of the named modules (all of them again, even
those with a result), for a machine too slow for the whole run. ``--survivors`` (implies
``--keep``) runs again only the mutants that survived the last run or have no result (an
interrupted run, or code changed since: mutmut forgets the results of a changed function),
against the tests as they are now: the way to see new tests kill them.

``curated`` applies a fixed list of mutations on the Elasticsearch paths, one at a time, to a
throwaway copy of the tree (never the working tree), and runs the tests that should catch
each against one Elasticsearch node started for the whole check and stopped after it. Each
is reported killed, with the tests that failed, or survived.

``all`` (the default) does both. Everything runs in ``.venvs/mutation``, made and kept up to
date here like scripts/test makes its environments. Property tests use the derandomized
``mutation`` Hypothesis profile, so two runs of the same tree give the same result.

Exit status: 0 when each pure module run scores at least 90% and every curated mutation is
killed, 1 otherwise, 2 for bad usage.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

REPO: Final = Path(__file__).resolve().parent.parent
VENV: Final = REPO / ".venvs" / "mutation"
EXTRAS: Final = ".[test,jobs,mutation]"
PACKAGE: Final = "src/failover_verify"
MUTANTS: Final = REPO / "mutants"
EQUIVALENT_FILE: Final = REPO / "scripts" / "mutants-equivalent.txt"
TARGET: Final = 0.90
# The modules [tool.mutmut] only_mutate names in pyproject.toml.
PURE_MODULES: Final = (
    "_gateway",
    "_policy",
    "_records",
    "_registry",
    "_signals",
    "_summary",
    "_window",
)
LINE: Final = "9"
# What mutmut's exit codes mean (mutmut.stats.status_by_exit_code, mutmut 3.8).
STATUS_BY_EXIT_CODE: Final[Mapping[int | None, str]] = {
    1: "killed",
    3: "killed",
    0: "survived",
    5: "no tests",
    33: "no tests",
    2: "interrupted",
    None: "not checked",
    34: "skipped",
    35: "suspicious",
    36: "timeout",
    37: "caught by type check",
    -24: "timeout",
    24: "timeout",
    152: "timeout",
    255: "timeout",
    -11: "segfault",
    -9: "segfault",
}
CAUGHT: Final = frozenset({"killed", "timeout", "caught by type check", "killed at import"})
# Functions the package calls while it is imported (the hit wire model, the per-kind plans for
# reading it, and the signals are built at module level). mutmut picks a mutant in a process
# that has already imported the package, so their mutants never take effect there and always
# "survive"; each such survivor is checked again in a fresh pytest process with the mutant
# active from the start, against these tests.
AT_IMPORT: Final[Mapping[str, tuple[str, ...]]] = {
    "failover_verify._records.x__wire_model__mutmut_": (
        "tests/test_records.py",
        "tests/test_offline.py",
    ),
    "failover_verify._records.x__source_alias__mutmut_": (
        "tests/test_records.py",
        "tests/test_offline.py",
    ),
    "failover_verify._records.x__wire_plan__mutmut_": (
        "tests/test_records.py",
        "tests/test_offline.py",
    ),
    # SIGNALS is built at import, each served signal's conditions by _unit_primitive.
    "failover_verify._signals.x__unit_primitive__mutmut_": ("tests/test_signals.py",),
}
# Copied into the throwaway tree for the curated mutations: what the tests import and read.
TREE_PARTS: Final = ("src", "tests", "fixtures", "scripts", "pyproject.toml")


def _say(message: str) -> None:
    print(f"scripts/mutants: {message}", flush=True)


class MutationCheckError(Exception):
    """The check itself could not run (not: a mutant survived)."""


# --- the environment ---------------------------------------------------------------------------


def _python_ok(python: str) -> bool:
    check = "import sys, venv; sys.exit(sys.version_info < (3, 11))"
    return subprocess.run([python, "-c", check], capture_output=True, check=False).returncode == 0


def ensure_venv() -> Path:
    """``.venvs/mutation`` with the package, its test and jobs extras and mutmut."""
    python = VENV / "bin" / "python"
    if not python.exists():
        base = next((p for p in ("python3", "/usr/bin/python3.11") if _python_ok(p)), None)
        if base is None:
            raise MutationCheckError("no Python 3.11+ with the venv module; install python3-venv")
        _say(f"creating {VENV}")
        subprocess.run([base, "-m", "venv", str(VENV)], check=True)
    stamp = hashlib.sha256((REPO / "pyproject.toml").read_bytes() + EXTRAS.encode()).hexdigest()
    stamp_file = VENV / ".installed"
    if not stamp_file.exists() or stamp_file.read_text().strip() != stamp:
        _say(f"installing {EXTRAS} into {VENV}")
        subprocess.run(
            [
                python,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-e",
                EXTRAS,
            ],
            cwd=REPO,
            check=True,
        )
        stamp_file.write_text(stamp + "\n")
    return python


def _test_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["HYPOTHESIS_PROFILE"] = "mutation"
    env.update(extra)
    return env


# --- pure modules: mutmut ----------------------------------------------------------------------


@dataclass(frozen=True)
class Mutant:
    name: str
    module: str
    status: str


def run_mutmut(
    jobs: int, *, keep: bool, modules: Sequence[str] = (), survivors: bool = False
) -> None:
    if not keep and MUTANTS.exists():
        shutil.rmtree(MUTANTS)
    MUTANTS.mkdir(exist_ok=True)
    if keep:
        _refresh_package_data()
    log = MUTANTS / "run.log"
    log.write_text("")
    _say(f"running mutmut with {jobs} workers; its progress goes to {log.relative_to(REPO)}")
    started = time.monotonic()
    if not survivors:
        # mutmut names a mutant failover_verify.<module>.<function>__mutmut_<n>.
        _mutmut(jobs, [f"failover_verify.{module}.*" for module in modules], log)
    else:
        # The survivors, and mutants without a result. mutmut regenerates the mutants of a
        # function whose code changed and forgets their results, which only shows once it has
        # run; those are run in a second round.
        for round_ in ("survivors", "changed"):
            names = [
                mutant.name
                for mutant in read_mutants(modules)
                if mutant.status not in CAUGHT
                and (round_ == "survivors" or mutant.status == "not checked")
            ]
            if not names:
                continue
            what = "survivors and unchecked mutants" if round_ == "survivors" else "mutants"
            which = "of the last run" if round_ == "survivors" else "of changed code"
            _say(f"running the {len(names)} {what} {which} again")
            _mutmut(jobs, names, log)
    _say(f"mutmut finished in {time.monotonic() - started:.0f}s")


def _refresh_package_data() -> None:
    """Copy the package's data files (not its code) into a kept mutants/ tree: mutmut
    re-creates the mutated modules when they change, but not the files they read."""
    source = REPO / PACKAGE
    for path in source.rglob("*"):
        if not path.is_file() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts:
            continue
        target = MUTANTS / PACKAGE / path.relative_to(source)
        if not target.exists() or target.read_bytes() != path.read_bytes():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)


def _mutmut(jobs: int, names: Sequence[str], log: Path) -> None:
    with log.open("a") as out:
        result = subprocess.run(
            [str(VENV / "bin" / "mutmut"), "run", "--max-children", str(jobs), *names],
            cwd=REPO,
            env=_test_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if result.returncode != 0:
        tail = log.read_text(errors="replace").replace("\r", "\n").splitlines()[-15:]
        raise MutationCheckError(
            f"mutmut failed (exit status {result.returncode}):\n" + "\n".join(tail)
        )


def read_mutants(modules: Sequence[str] = ()) -> list[Mutant]:
    """Every mutant of the last mutmut run (of ``modules`` only, if given), from mutmut's
    per-file results."""
    found = []
    for meta in sorted((MUTANTS / PACKAGE).glob("*.py.meta")):
        module = meta.name.removesuffix(".py.meta")
        if modules and module not in modules:
            continue
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        for name, code in sorted(codes.items(), key=lambda item: _natural(item[0])):
            found.append(Mutant(name, module, STATUS_BY_EXIT_CODE.get(code, "suspicious")))
    if not found:
        raise MutationCheckError("mutmut left no results in mutants/; run without --keep")
    return found


def _at_import_run(tests: Sequence[str], mutant: str) -> int:
    env = _test_env(PYTHONPATH=str(MUTANTS / "src"), MUTANT_UNDER_TEST=mutant)
    command = [str(VENV / "bin" / "python"), "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider"]
    result = subprocess.run(
        [*command, "-m", "not es", *tests], cwd=REPO, env=env, capture_output=True, check=False
    )
    return result.returncode


def recheck_at_import(mutants: Sequence[Mutant]) -> list[Mutant]:
    """The survivors of import-time functions (:data:`AT_IMPORT`) checked in a fresh process:
    killed when a test fails or the package cannot even be imported."""
    checked = []
    passing: set[tuple[str, ...]] = set()
    for mutant in mutants:
        tests = next(
            (tests for prefix, tests in AT_IMPORT.items() if mutant.name.startswith(prefix)), None
        )
        if tests is None or mutant.status != "survived":
            checked.append(mutant)
            continue
        if tests not in passing:
            # Failures only mean something if the same tests pass without a mutant.
            if _at_import_run(tests, "") != 0:
                raise MutationCheckError(f"{', '.join(tests)} fail without any mutant")
            passing.add(tests)
        code = _at_import_run(tests, mutant.name)
        # 1: a test failed; 2 to 4: the package (or conftest) could not be imported at all.
        killed = code in (1, 2, 3, 4)
        checked.append(replace(mutant, status="killed at import") if killed else mutant)
    return checked


def _natural(name: str) -> tuple[str, int]:
    stem, _, number = name.rpartition("_")
    return (stem, int(number)) if number.isdigit() else (name, 0)


def read_equivalent() -> dict[str, str]:
    """Mutant name -> why no behaviour can tell it from the original."""
    reasons: dict[str, str] = {}
    if not EQUIVALENT_FILE.exists():
        return reasons
    for raw in EQUIVALENT_FILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, _, reason = line.partition(" ")
        reasons[name] = reason.strip()
    return reasons


_DIFF_HELPER: Final = """
import json, sys
from mutmut.__main__ import find_mutant, get_diff_for_mutant
diffs = {}
for name in json.load(sys.stdin):
    try:
        diffs[name] = get_diff_for_mutant(name, path=find_mutant(name).path)
    except Exception as exc:
        diffs[name] = f"(no diff: {exc})"
print(json.dumps(diffs))
"""


def mutant_changes(names: Sequence[str]) -> dict[str, str]:
    """The changed lines of each mutant, as ``- old / + new``, asked of mutmut in one go."""
    if not names:
        return {}
    result = subprocess.run(
        [str(VENV / "bin" / "python"), "-c", _DIFF_HELPER],
        cwd=REPO,
        input=json.dumps(list(names)),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        return dict.fromkeys(names, "(mutmut could not show the change)")
    diffs: dict[str, str] = json.loads(result.stdout)
    changes = {}
    for name, diff in diffs.items():
        lines = [
            line[0] + " " + line[1:].strip()
            for line in diff.splitlines()
            if line[:1] in "+-" and not line.startswith(("+++", "---"))
        ]
        changes[name] = " / ".join(lines) or diff.strip()
    return changes


def report_pure(mutants: Sequence[Mutant], equivalent: Mapping[str, str]) -> dict[str, float]:
    """Print the scores and the survivors; return the score of each module run."""
    by_module: dict[str, Counter[str]] = {}
    scores: dict[str, float] = {}
    for mutant in mutants:
        by_module.setdefault(mutant.module, Counter())[mutant.status] += 1
    print()
    print("Pure modules (mutmut): killed / total, a time-out counted as killed")
    width = max(len(module) for module in by_module) + 3
    killed_all = 0
    for module, counts in sorted(by_module.items()):
        total = sum(counts.values())
        killed = sum(counts[status] for status in CAUGHT)
        killed_all += killed
        scores[module] = killed / total
        rest = ", ".join(
            f"{count} {status}" for status, count in sorted(counts.items()) if status not in CAUGHT
        )
        print(f"  {module + '.py':<{width}} {killed:>5} / {total:<5} {killed / total:6.1%}  {rest}")
    total_all = len(mutants)
    score = killed_all / total_all
    print(f"  {'overall':<{width}} {killed_all:>5} / {total_all:<5} {score:6.1%}")
    left = [mutant for mutant in mutants if mutant.status not in CAUGHT]
    listed = [mutant for mutant in left if mutant.name in equivalent]
    if listed:
        without = total_all - len(listed)
        print(
            f"  {'overall without the equivalent':<{width}} {killed_all:>5} / {without:<5} "
            f"{killed_all / without:6.1%}"
        )
    changes = mutant_changes([mutant.name for mutant in left])
    print()
    unexplained = [mutant for mutant in left if mutant.name not in equivalent]
    print(f"Survivors ({len(left)}: {len(listed)} equivalent, {len(unexplained)} not):")
    for mutant in left:
        print(f"  {mutant.name} [{mutant.status}]: {changes.get(mutant.name, '')}")
        if mutant.name in equivalent:
            print(f"      equivalent: {equivalent[mutant.name]}")
    # Only the modules checked here: with --modules, the others' entries were not looked at.
    checked = {mutant.module for mutant in mutants}
    stale = sorted(
        name
        for name in set(equivalent) - {mutant.name for mutant in left}
        if name.split(".")[1] in checked
    )
    if stale:
        print()
        print(f"Listed as equivalent but killed or gone ({len(stale)}), to remove from the list:")
        for name in stale:
            print(f"  {name}")
    return scores


# --- curated mutations on the Elasticsearch paths ----------------------------------------------


@dataclass(frozen=True)
class Curated:
    """One hand-made bug: ``old`` (found exactly once in ``path``) becomes ``new``."""

    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]


_VERIFY: Final = "tests/test_verify.py"
_SLICES: Final = "tests/test_slices.py"
CURATED: Final[tuple[Curated, ...]] = (
    Curated(
        "read_answer ignores a search that timed out",
        "src/failover_verify/_answers.py",
        '    if body.get("timed_out"):\n',
        "    if False:\n",
        (
            f"{_VERIFY}::TestPreflightAndPartialResults::test_timed_out_is_inconclusive",
            "tests/test_timeline.py::TestPartialPages",
        ),
    ),
    Curated(
        "read_answer ignores failed shards",
        "src/failover_verify/_answers.py",
        '    if int(shards.get("failed", 0) or 0):\n',
        "    if False:\n",
        (
            f"{_VERIFY}::TestPreflightAndPartialResults::test_failed_shards_are_inconclusive",
            "tests/test_faults.py::TestPartialResults::test_failed_shards_named",
        ),
    ),
    Curated(
        "read_answer ignores skipped clusters",
        "src/failover_verify/_answers.py",
        "    clusters = _missing_clusters(body)\n",
        "    clusters = None\n",
        ("tests/test_faults.py::TestPartialResults::test_skipped_cluster_named",),
    ),
    Curated(
        "the timeline takes a partial page as whole (Verifier.timeline)",
        "src/failover_verify/_verify.py",
        "                for problem in answer.problems:\n",
        "                for problem in ():\n",
        (
            "tests/test_timeline.py::TestPartialPages",
            "tests/test_faults.py::TestWatchSwitchTime::test_partial_timeline_gives_no_switch_time",
        ),
    ),
    Curated(
        "export writes a partial page (export_hits)",
        "src/failover_verify/_export.py",
        "            if not answer.complete:\n",
        "            if False:\n",
        ("tests/test_faults.py::TestPartialExport",),
    ),
    Curated(
        "composite paging stops after the first page",
        "src/failover_verify/_answers.py",
        "        after = dict(next_key)\n",
        "        return\n",
        ("tests/test_timeline.py::TestPaging",),
    ),
    Curated(
        "records past the group cap are not counted as unclassified",
        "src/failover_verify/_summary.py",
        '            counts["unclassified"] += missing\n',
        '            counts["unclassified"] += 0\n',
        (f"{_VERIFY}::TestPinnedEdges::test_records_past_the_group_cap_are_unclassified",),
    ),
    Curated(
        "the CLI's own secret scrubbing is off (_Console.scrub)",
        "src/failover_verify/_cli.py",
        "        for secret in self.secrets:\n",
        "        for secret in ():\n",
        ("tests/test_secrets.py::TestPlantedSecrets",),
    ),
    Curated(
        "a contradicted --expect exits 3 (cannot tell) instead of 1 (_outcome)",
        "src/failover_verify/_cli.py",
        "        return EXIT_MISMATCH\n    if not all(f.definite for f in features):\n",
        "        return EXIT_CANNOT_TELL\n    if not all(f.definite for f in features):\n",
        (
            "tests/test_cli.py::TestStatusOffline",
            "tests/test_cli.py::TestStatusLive",
            "tests/test_cli.py::TestStatusOptions::test_cannot_tell_is_3_even_with_expect",
        ),
    ),
    Curated(
        "cannot tell is checked before a contradiction, so exit 3 hides exit 1 (_outcome)",
        "src/failover_verify/_cli.py",
        "    if expect is not None and contradicted(report, expect):\n"
        "        return EXIT_MISMATCH\n"
        "    if not all(f.definite for f in features):\n"
        "        return EXIT_CANNOT_TELL\n",
        "    if not all(f.definite for f in features):\n"
        "        return EXIT_CANNOT_TELL\n"
        "    if expect is not None and contradicted(report, expect):\n"
        "        return EXIT_MISMATCH\n",
        (
            "tests/test_cli.py::TestStatusOffline",
            "tests/test_cli.py::TestStatusLive",
            "tests/test_cli.py::TestStatusOptions::test_cannot_tell_is_3_even_with_expect",
        ),
    ),
    Curated(
        "cannot tell exits 0 (_outcome)",
        "src/failover_verify/_cli.py",
        "    if not all(f.definite for f in features):\n        return EXIT_CANNOT_TELL\n",
        "    if not all(f.definite for f in features):\n        return EXIT_OK\n",
        (
            "tests/test_cli.py::TestStatusLive",
            "tests/test_cli.py::TestStatusOptions::test_cannot_tell_is_3_even_with_expect",
        ),
    ),
    Curated(
        "a custom threshold is ignored in favour of 0.95 (Verifier)",
        "src/failover_verify/_verify.py",
        "            threshold=threshold,\n            min_count=min_count,\n",
        "            threshold=DEFAULT_THRESHOLD,\n            min_count=min_count,\n",
        (
            f"{_VERIFY}::TestPinnedEdges::test_custom_threshold",
            "tests/test_cli.py::TestStatusOptions::test_threshold_option",
        ),
    ),
    Curated(
        "a custom threshold is ignored in favour of 0.95 offline (verify_hits)",
        "src/failover_verify/_offline.py",
        "        threshold=threshold,\n        min_count=min_count,\n        kibana_url",
        "        threshold=DEFAULT_THRESHOLD,\n        min_count=min_count,\n        kibana_url",
        ("tests/test_offline.py::TestThresholdOffline",),
    ),
    Curated(
        "threshold and min-count validation removed (check_thresholds)",
        "src/failover_verify/_summary.py",
        '    """Refuse a threshold or minimum count that would let a verdict mean nothing."""\n',
        '    """Refuse a threshold or minimum count that would let a verdict mean nothing."""\n'
        "    return\n",
        (f"{_VERIFY}::TestLibraryValidation",),
    ),
    Curated(
        "the offline window includes its end instant",
        "src/failover_verify/_offline.py",
        "window.start <= row.moment < window.end",
        "window.start <= row.moment <= window.end",
        ("tests/test_offline.py::TestWindowEdgesAndPromptIds",),
    ),
    Curated(
        "the prompt-id filter is ignored offline",
        "src/failover_verify/_signals.py",
        "        return any(value == base or value.startswith("
        'f"{base}/") for base in self.values)\n',
        "        return True\n",
        ("tests/test_offline.py::TestWindowEdgesAndPromptIds",),
    ),
    Curated(
        "the gprod pattern's hint suggests gprod again",
        "src/failover_verify/_verify.py",
        "try index={index.replace('gprod', 'gprd')!r}",
        "try index={index.replace('gprd', 'gprod')!r}",
        (
            f"{_VERIFY}::TestPinnedEdges::test_spelling_hint_names_the_other_pattern",
            f"{_VERIFY}::TestPinnedEdges::test_no_spelling_hint_for_other_patterns",
        ),
    ),
    Curated(
        "no spelling hint for a gprd or gprod pattern (_pattern_hint)",
        "src/failover_verify/_verify.py",
        '    if "gprod" in index and "gprd" in index:\n',
        "    if True:\n",
        (f"{_VERIFY}::TestPinnedEdges::test_spelling_hint_names_the_other_pattern",),
    ),
    Curated(
        "--time-field is ignored by the range query",
        "src/failover_verify/_queries.py",
        "            time_field: {\n",
        '            "@timestamp": {\n',
        (
            f"{_VERIFY}::TestPinnedEdges::test_time_field_decides_the_range",
            "tests/test_cli.py::TestStatusOptions::test_time_field_option",
        ),
    ),
    Curated(
        "kept slices are not checked against the index again (_stale)",
        "src/failover_verify/_slices.py",
        "        if counts.get(work.signal.id, 0)"
        " != sum(work.held.slices[s].total for s in work.used)\n",
        "        if False\n",
        (f"{_SLICES}::TestLateAndLostRecords",),
    ),
    Curated(
        "a timed-out check of the kept slices is trusted (_stale)",
        "src/failover_verify/_slices.py",
        "    counts = held_counts(answer) if answer is not None and answer.complete else None\n",
        "    counts = held_counts(answer) if answer is not None else None\n",
        (f"{_SLICES}::TestPartialAnswers::test_partial_check_of_kept_slices_asks_again",),
    ),
    Curated(
        "the slices of a partial answer are kept (_result)",
        "src/failover_verify/_slices.py",
        "        if tally.complete:\n            _keep(work, fresh, edge, length_ms)\n",
        "        if True:\n            _keep(work, fresh, edge, length_ms)\n",
        (f"{_SLICES}::TestPartialAnswers::test_partial_slice_answers_are_not_kept",),
    ),
)


@dataclass(frozen=True)
class Outcome:
    mutation: Curated
    failed: tuple[str, ...]
    seconds: float

    @property
    def killed(self) -> bool:
        return bool(self.failed)


@contextmanager
def _one_node() -> Iterator[Path]:
    """One Elasticsearch node for every curated run: its state file, as local-es writes it."""
    import esnode  # noqa: PLC0415 (the node harness is only needed for this part)

    _say(f"starting an Elasticsearch {LINE} node for the curated mutations")
    node = esnode.start_node(LINE, progress=_say)
    try:
        with tempfile.TemporaryDirectory(prefix="fv-mutants-node-") as scratch:
            state = Path(scratch) / "node.json"
            state.write_text(node.to_json())
            _say(f"node {node.url} (pid {node.pid}) is up")
            yield state
    finally:
        esnode.stop_node(node)
        _say("node stopped")


def _copy_tree(target: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis")
    for part in TREE_PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, target / part, ignore=ignore)
        else:
            shutil.copy2(source, target / part)


def _run_tests(tree: Path, state: Path, tests: Sequence[str], report: Path) -> tuple[int, str]:
    command = [
        str(VENV / "bin" / "python"),
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--es-line",
        LINE,
        f"--junitxml={report}",
        *tests,
    ]
    env = _test_env(PYTHONPATH=str(tree / "src"), FAILOVER_VERIFY_TEST_ES_NODE=str(state))
    result = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, check=False)
    return result.returncode, result.stdout + result.stderr


def _failed_tests(report: Path) -> tuple[str, ...]:
    failed = []
    # The report is the one our own pytest run just wrote, not outside input.
    for case in ET.parse(report).getroot().iter("testcase"):  # noqa: S314
        if case.find("failure") is not None or case.find("error") is not None:
            # "tests.test_cli.TestStatusLive" is the module tests/test_cli.py, then classes.
            parts = case.get("classname", "").split(".")
            module = [part for part in parts if not part[:1].isupper()]
            classes = [part for part in parts if part[:1].isupper()]
            path = "/".join(module) + ".py"
            failed.append("::".join([path, *classes, case.get("name", "?")]))
    return tuple(failed)


def _check_imports_copy(tree: Path) -> None:
    env = _test_env(PYTHONPATH=str(tree / "src"))
    result = subprocess.run(
        [
            str(VENV / "bin" / "python"),
            "-c",
            "import failover_verify; print(failover_verify.__file__)",
        ],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if not Path(result.stdout.strip()).is_relative_to(tree):
        raise MutationCheckError(
            f"the copy's tests would import {result.stdout.strip() or result.stderr.strip()}, "
            f"not the package in {tree}; the mutations would not be tested"
        )


def run_curated() -> list[Outcome]:
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="fv-mutants-tree-") as scratch:
        tree = Path(scratch)
        _copy_tree(tree)
        _check_imports_copy(tree)
        originals = {}
        for mutation in CURATED:
            text = (tree / mutation.path).read_text()
            if text.count(mutation.old) != 1:
                raise MutationCheckError(
                    f"{mutation.name}: the text to mutate is in {mutation.path} "
                    f"{text.count(mutation.old)} times, not once; update CURATED in "
                    "scripts/mutation.py to the current code"
                )
            originals[mutation.path] = text
        with _one_node() as state:
            every = sorted({test for mutation in CURATED for test in mutation.tests})
            _say(f"baseline: the {len(every)} selections of tests pass on the unmutated copy")
            code, output = _run_tests(tree, state, every, tree / "baseline.xml")
            if code != 0:
                raise MutationCheckError(
                    "the curated tests fail without any mutation, so they cannot judge one:\n"
                    + output[-3000:]
                )
            for number, mutation in enumerate(CURATED, start=1):
                path = tree / mutation.path
                path.write_text(originals[mutation.path].replace(mutation.old, mutation.new))
                started = time.monotonic()
                report = tree / f"mutant-{number}.xml"
                try:
                    code, output = _run_tests(tree, state, mutation.tests, report)
                finally:
                    path.write_text(originals[mutation.path])
                if code not in (0, 1) or not report.exists():
                    raise MutationCheckError(
                        f"{mutation.name}: pytest could not run (exit {code}):\n{output[-3000:]}"
                    )
                outcome = Outcome(mutation, _failed_tests(report), time.monotonic() - started)
                _say(
                    f"[{number}/{len(CURATED)}] {mutation.name}: "
                    f"{'killed' if outcome.killed else 'SURVIVED'}"
                )
                outcomes.append(outcome)
    return outcomes


def report_curated(outcomes: Sequence[Outcome]) -> None:
    killed = sum(outcome.killed for outcome in outcomes)
    print()
    print(f"Curated mutations on the Elasticsearch paths: {killed} / {len(outcomes)} killed")
    for outcome in outcomes:
        mutation = outcome.mutation
        print(f"  {'killed  ' if outcome.killed else 'SURVIVED'} {mutation.name}")
        print(f"           {mutation.path}: {mutation.old.strip()!r} -> {mutation.new.strip()!r}")
        if outcome.killed:
            for test in outcome.failed[:3]:
                print(f"           killed by {test}")
            if len(outcome.failed) > 3:
                print(f"           and {len(outcome.failed) - 3} more tests")
        else:
            print(f"           no test failed of: {', '.join(mutation.tests)}")


# --- command line ------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/mutants",
        description="Mutation check: mutmut over the pure modules, curated Elasticsearch bugs.",
    )
    parser.add_argument("part", nargs="?", choices=("all", "pure", "curated"), default="all")
    parser.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 2, help="mutmut workers (default: cores)"
    )
    parser.add_argument(
        "--keep", action="store_true", help="reuse mutmut's results in mutants/ (quicker)"
    )
    parser.add_argument(
        "--survivors",
        action="store_true",
        help="run only the last run's survivors again (implies --keep)",
    )
    parser.add_argument(
        "--modules",
        type=lambda text: [name.strip() for name in text.split(",") if name.strip()],
        default=[],
        help="only these pure modules, comma-separated (e.g. _summary,_window,_policy)",
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.modules) - set(PURE_MODULES))
    if unknown:
        parser.error(f"not a pure module: {', '.join(unknown)}; choose from {PURE_MODULES}")
    started = time.monotonic()
    try:
        ensure_venv()
        scores: dict[str, float] = {}
        outcomes: list[Outcome] = []
        if args.part in ("all", "pure"):
            run_mutmut(
                args.jobs,
                keep=args.keep or args.survivors,
                modules=args.modules,
                survivors=args.survivors,
            )
        if args.part in ("all", "curated"):
            outcomes = run_curated()
        if args.part in ("all", "pure"):
            scores = report_pure(recheck_at_import(read_mutants(args.modules)), read_equivalent())
        if outcomes:
            report_curated(outcomes)
    except (MutationCheckError, subprocess.CalledProcessError, OSError) as exc:
        print(f"scripts/mutants: {exc}", file=sys.stderr)
        return 1
    print()
    verdicts = []
    # Each module on its own: a well-tested module must not carry a weak one over the line.
    short = [module for module, score in sorted(scores.items()) if score < TARGET]
    if scores:
        lowest = min(scores.values())
        verdicts.append(
            f"{len(scores) - len(short)} of {len(scores)} pure modules at least {TARGET:.0%}"
            + (
                " (" + ", ".join(f"{module} {scores[module]:.1%}" for module in short) + ")"
                if short
                else f" (lowest {lowest:.1%})"
            )
        )
    if outcomes:
        verdicts.append(
            f"curated {sum(o.killed for o in outcomes)} / {len(outcomes)} killed (target all)"
        )
    met = not short and all(o.killed for o in outcomes)
    print(
        f"{'MET' if met else 'NOT MET'}: {'; '.join(verdicts)}; {time.monotonic() - started:.0f}s"
    )
    return 0 if met else 1
