"""The package's shape: no import cycles, honest ``__all__`` lists, one definition per signal."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

import failover_verify as fv
from failover_verify._signals import SIGNALS, signals_for
from failover_verify._types import FEATURES

PACKAGE = Path(fv.__file__).resolve().parent
ROOT = PACKAGE.parent.parent
MODULES = sorted(path.stem for path in PACKAGE.glob("_*.py") if path.stem != "__main__")
# Everything in the repository that may import a private module: the package itself, its
# entry point, and the tests, benchmarks, scripts and fixture generator.
IMPORTERS = sorted(
    {
        *(PACKAGE / f"{module}.py" for module in MODULES),
        PACKAGE / "__main__.py",
        *(
            path
            for folder in ("tests", "benchmarks", "scripts", "fixtures")
            for path in (ROOT / folder).glob("*.py")
        ),
    }
)


def _tree(module: str | Path) -> ast.Module:
    path = module if isinstance(module, Path) else PACKAGE / f"{module}.py"
    return ast.parse(path.read_text("utf-8"))


def _type_checking_blocks(tree: ast.Module) -> set[int]:
    """Line numbers inside ``if TYPE_CHECKING:`` blocks (imports there never run)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def _imports(module: str | Path) -> Iterator[tuple[str, list[str]]]:
    """(imported private module, names used from it) for every import that runs, at any level.

    ``from failover_verify import _fields as f`` counts the attributes used as ``f.NAME``.
    """
    tree = _tree(module)
    skipped = _type_checking_blocks(tree)
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom) or not node.module or node.lineno in skipped:
            continue
        if node.module.startswith("failover_verify._"):
            yield node.module.split(".", 1)[1], [alias.name for alias in node.names]
        elif node.module == "failover_verify":
            for alias in node.names:
                if alias.name.startswith("_"):
                    yield alias.name, sorted(_attributes(tree, alias.asname or alias.name))


def _attributes(tree: ast.Module, name: str) -> set[str]:
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == name
    }


def _graph() -> dict[str, set[str]]:
    return {module: {target for target, _ in _imports(module)} for module in MODULES}


class TestImports:
    def test_no_cycles(self) -> None:
        """No private module imports itself back through others, even inside a function."""
        graph = _graph()
        cycles: list[list[str]] = []

        def visit(module: str, path: list[str]) -> None:
            for target in sorted(graph.get(module, ())):
                if target in path:
                    cycles.append([*path[path.index(target) :], target])
                elif target in graph:
                    visit(target, [*path, target])

        for module in MODULES:
            visit(module, [module])
        assert cycles == []

    def test_graph_is_seen(self) -> None:
        """The import graph is read at all: the CLI reaches the verifier and the verifier the
        network boundary."""
        graph = _graph()
        assert "_verify" in graph["_cli"]
        assert "_es" in graph["_verify"]

    @pytest.mark.parametrize("module", MODULES)
    def test_all_lists_what_others_import(self, module: str) -> None:
        """Every name imported from a private module elsewhere is in its ``__all__``, and
        every name in it is imported somewhere or exported publicly."""
        exported = _all_of(module)
        wanted: set[str] = set()
        for other in IMPORTERS:
            for target, names in _imports(other):
                if target == module and other != PACKAGE / f"{module}.py":
                    wanted.update(names)
        public = set(fv.__all__)
        assert sorted(wanted - exported) == []
        assert sorted(exported - wanted - public) == []


def _all_of(module: str) -> set[str]:
    for node in _tree(module).body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(getattr(target, "id", None) == "__all__" for target in targets):
                assert node.value is not None
                return set(ast.literal_eval(node.value))
    return set()


class TestSignals:
    def test_every_feature_has_evidence(self) -> None:
        """Each feature has at least one signal, and signal ids are unique."""
        assert all(signals_for(feature) for feature in FEATURES)
        ids = [signal.id for signal in SIGNALS]
        assert len(ids) == len(set(ids))

    def test_no_module_branches_on_a_feature_name(self) -> None:
        """Outside the signal definitions and the shared vocabulary, no code tests a feature
        name: behaviour comes from the definitions."""
        offenders = [
            f"{module}:{node.lineno}"
            for module in MODULES
            if module not in ("_signals", "_types")
            for node in ast.walk(_tree(module))
            if isinstance(node, ast.Compare)
            and any(
                isinstance(part, ast.Constant) and part.value in FEATURES
                for part in (node.left, *node.comparators)
            )
        ]
        assert offenders == []

    def test_group_fields_are_record_fields(self) -> None:
        """Each signal counts by fields its record model has, at the paths the record reads."""
        for signal in SIGNALS:
            for name, path in signal.group_fields.items():
                assert signal.record.PATHS[name] == path, (signal.id, name)
            assert signal.required <= set(signal.group_fields)


PUBLIC_MODELS = sorted(
    (
        value
        for name in fv.__all__
        if isinstance(value := getattr(fv, name), type) and issubclass(value, BaseModel)
    ),
    key=lambda model: model.__name__,
)


class TestPublicModels:
    def test_every_public_model_is_checked(self) -> None:
        """The list below covers the public models (so a new one is not missed)."""
        assert {model.__name__ for model in PUBLIC_MODELS} >= {
            "ConnectionSettings",
            "TimeWindow",
            "Report",
            "FeatureReport",
            "Timeline",
            "Policy",
            "Rule",
            "CompletionRecord",
        }

    @pytest.mark.parametrize("model", PUBLIC_MODELS, ids=lambda model: model.__name__)
    def test_bad_values_raise_the_packages_error(self, model: type[BaseModel]) -> None:
        """Building a public model from bad values raises a FailoverVerifyError, never
        pydantic's ValidationError, from the constructor and from model_validate."""
        with pytest.raises(fv.FailoverVerifyError) as built:
            model(**dict.fromkeys(model.model_fields, object()))
        assert not isinstance(built.value, ValidationError)
        # The message starts with the model that refused (the outer one, or a nested one).
        assert re.match(r"[A-Z][A-Za-z]+: ", str(built.value))
        with pytest.raises(fv.FailoverVerifyError):
            model.model_validate(42)

    def test_specific_errors(self) -> None:
        """A bad URL is a ConfigurationError; a reversed window a WindowError."""
        with pytest.raises(fv.ConfigurationError, match="not an http"):
            fv.ConnectionSettings(url="ftp://x")
        start = datetime(2026, 1, 1, tzinfo=UTC)
        with pytest.raises(fv.WindowError, match="inverted"):
            fv.TimeWindow(start=start, end=start - timedelta(minutes=1))
        with pytest.raises(fv.PolicyError):
            fv.Rule(role="sideways", conditions={})


class TestReprs:
    def test_short_one_line_reprs(self) -> None:
        """Report, FeatureReport and Timeline reprs are one line under 200 characters, with
        the window and the verdicts; str() tells the whole story."""
        hits = list(fv.read_ndjson(ROOT / "fixtures" / "incident-2026-01.ndjson"))
        report = fv.verify_hits(hits)
        timeline = fv.timeline_hits(hits, interval="1m")
        shown = {
            "report": repr(report),
            "feature": repr(report.features["completion"]),
            "timeline": repr(timeline),
        }
        for text in shown.values():
            assert "\n" not in text
            assert len(text) < 200
        assert shown["report"] == (
            f"<Report {report.window.describe()}: completion mixed, generation mixed>"
        )
        assert shown["feature"].startswith("<FeatureReport completion mixed by input failover ")
        assert shown["timeline"].startswith(f"<Timeline {timeline.window.describe()} every 60s")
        assert shown["timeline"].endswith("4 switches (last: generation to primary at 11:18:00Z)>")
        assert "by provider" in str(report)
        assert str(report.features["completion"]).startswith("completion")

    def test_public_names_show_the_package(self) -> None:
        """Public classes name the package, not a private module, in reprs and tracebacks."""
        assert fv.Report.__module__ == "failover_verify"
        assert fv.FailoverVerifyError.__module__ == "failover_verify"
        assert repr(fv.Verifier).startswith("<class 'failover_verify.Verifier'")
