"""The notebook experience: timelines from the node, DataFrames, plots, HTML and the example."""

from __future__ import annotations

import io
import json
import math
import random
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import nbclient
import nbformat
import pandas as pd
import pytest
from elasticsearch import Elasticsearch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

import failover_verify as fv
import gateway_logs as gl
from esdata import completions, generations, index_gateway_records

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "fixtures" / "incident-2026-01.ndjson"
NOTEBOOK = ROOT / "examples" / "incident-review.ipynb"
T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
INSTALL = "pip install 'failover-verify[notebook]'"
FAILOVER_START = "2026-01-21T10:02:00Z"
FAILOVER_END = "2026-01-21T11:00:00Z"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ACTIVE_TAGS = re.compile(r"<\s*(script|img|iframe|link|object|embed)\b", re.IGNORECASE)


def _known_incident() -> list[dict[str, Any]]:
    """Documents whose per-minute counts are known exactly (all land inside their minute)."""
    return (
        completions(T0, 10, 60, "primary")
        # Two primary stragglers make the first failover minute mixed: the switch comes later.
        + completions(T0 + 10 * MINUTE, 1, 2, "primary", seed=3)
        + completions(T0 + 10 * MINUTE, 10, 60, "failover", seed=4)
        + completions(T0 + 22 * MINUTE, 3, 18, "primary", seed=5)
        + completions(T0 + 25 * MINUTE, 1, 2, "failover", seed=6)
        + generations(T0, 10, 50, "primary")
        + generations(T0 + 10 * MINUTE, 10, 50, "failover", seed=7)
    )


def _hits(documents: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"_index": "gateway", "_id": str(number), "_source": document}
        for number, document in enumerate(documents)
    ]


def _expected_completion() -> dict[int, tuple[int, int, int, str]]:
    minutes: dict[int, tuple[int, int, int, str]] = dict.fromkeys(range(30), (0, 0, 0, "empty"))
    minutes |= dict.fromkeys(range(10), (6, 6, 0, "primary"))
    minutes[10] = (8, 2, 6, "mixed")
    minutes |= dict.fromkeys(range(11, 20), (6, 0, 6, "failover"))
    minutes |= dict.fromkeys(range(22, 25), (6, 6, 0, "primary"))
    minutes[25] = (2, 0, 2, "sparse")
    return minutes


def _expected_generation() -> dict[int, tuple[int, int, int, str]]:
    minutes: dict[int, tuple[int, int, int, str]] = dict.fromkeys(range(30), (0, 0, 0, "empty"))
    minutes |= dict.fromkeys(range(10), (5, 5, 0, "primary"))
    minutes |= dict.fromkeys(range(10, 20), (5, 0, 5, "failover"))
    return minutes


def _by_minute(timeline: fv.Timeline, feature: fv.Feature) -> dict[int, tuple[int, int, int, str]]:
    return {
        int((point.start - T0) / MINUTE): (point.total, point.primary, point.failover, point.state)
        for point in timeline.features[feature]
    }


def _row(frame: pd.DataFrame, column: str, value: object) -> dict[Any, Any]:
    rows = frame[frame[column] == value].to_dict("records")
    assert len(rows) == 1, rows
    return rows[0]


def _raw_completions(hits: Iterable[dict[str, Any]]) -> tuple[int, int, datetime]:
    """Completion records, failover ones and the first failover time, read from raw sources.

    Independent of the package: the fixture's dotted keys are read directly.
    """
    total = failover = 0
    first: datetime | None = None
    for hit in hits:
        source = hit["_source"]
        if source.get("json.jsonPayload.message") != "code completion input:":
            continue
        total += 1
        if source.get("json.jsonPayload.model_provider") == "anthropic":
            failover += 1
            moment = datetime.fromisoformat(source["@timestamp"])
            first = moment if first is None else min(first, moment)
    assert first is not None
    return total, failover, first


def _read_notebook() -> Any:
    return nbformat.read(NOTEBOOK, as_version=4)  # type: ignore[no-untyped-call]


@pytest.fixture(scope="module")
def incident_hits() -> list[dict[str, Any]]:
    return [hit for hit in fv.read_ndjson(FIXTURE) if isinstance(hit, dict)]


@pytest.fixture(scope="module")
def incident_timeline(incident_hits: list[dict[str, Any]]) -> fv.Timeline:
    # Starting five minutes before the first record gives empty buckets to check.
    return fv.timeline_hits(
        incident_hits, since="2026-01-21T08:55:00Z", until="2026-01-21T11:30:00Z", interval="1m"
    )


@pytest.fixture(scope="module")
def whole_report(incident_hits: list[dict[str, Any]]) -> fv.Report:
    return fv.verify_hits(incident_hits)


@pytest.fixture(scope="module")
def failover_report(incident_hits: list[dict[str, Any]]) -> fv.Report:
    return fv.verify_hits(incident_hits, since=FAILOVER_START, until=FAILOVER_END)


class TestServerTimeline:
    def test_bucket_counts_and_switches(self, es_client: Elasticsearch, es_index: str) -> None:
        """The node's per-minute counts, states and switch times are exactly the indexed ones."""
        index_gateway_records(es_client, f"{es_index}-a", _known_incident())
        timeline = fv.timeline(
            es_client,
            since=T0,
            until=T0 + 30 * MINUTE,
            interval="1m",
            index=f"{es_index}*",
        )
        assert timeline.complete
        assert timeline.problems == []
        assert timeline.requests >= 3
        assert _by_minute(timeline, "completion") == _expected_completion()
        assert _by_minute(timeline, "generation") == _expected_generation()
        assert timeline.features["completion"][10].by_provider == {"anthropic": 6, "vertex-ai": 2}
        assert timeline.features["generation"][12].by_provider == {"vertex_ai": 5}
        assert [
            (switch.feature, switch.at, switch.from_role, switch.to_role)
            for switch in timeline.switches
        ] == [
            ("completion", T0 + 11 * MINUTE, "primary", "failover"),
            ("completion", T0 + 22 * MINUTE, "failover", "primary"),
            ("generation", T0 + 10 * MINUTE, "primary", "failover"),
        ]
        assert timeline.first_at("completion", "failover") == T0 + 11 * MINUTE

    def test_same_as_offline(self, es_client: Elasticsearch, es_index: str) -> None:
        """The server-side timeline equals the one built from the same documents as hits."""
        documents = _known_incident()
        index_gateway_records(es_client, f"{es_index}-a", documents)
        since, until = T0 - 5 * MINUTE, T0 + 30 * MINUTE
        online = fv.timeline(
            es_client, since=since, until=until, interval="1m", index=f"{es_index}*"
        )
        offline = fv.timeline_hits(_hits(documents), since=since, until=until, interval="1m")
        assert online.model_dump(exclude={"requests"}) == offline.model_dump(exclude={"requests"})
        assert offline.requests == 0


class TestTimelineFrame:
    def test_columns_and_dtypes(self, incident_timeline: fv.Timeline) -> None:
        """One row per feature and bucket, with typed columns and UTC timestamps."""
        frame = incident_timeline.to_pandas()
        assert list(frame.columns) == [
            "feature",
            "start",
            "total",
            "primary",
            "failover",
            "unclassified",
            "failover_share",
            "primary_share",
            "state",
            "calls",
            "errors",
            "error_share",
            "provider:vertex_ai",
            "provider:gitlab",
            "provider:anthropic",
        ]
        dtypes = {name: str(dtype) for name, dtype in frame.dtypes.items()}
        assert dtypes == {
            "feature": "category",
            "start": "datetime64[ns, UTC]",
            "total": "int64",
            "primary": "int64",
            "failover": "int64",
            "unclassified": "int64",
            "failover_share": "float64",
            "primary_share": "float64",
            "state": "category",
            "calls": "float64",
            "errors": "float64",
            "error_share": "float64",
            "provider:vertex_ai": "int64",
            "provider:gitlab": "int64",
            "provider:anthropic": "int64",
        }
        assert len(frame) == 2 * 155
        assert frame["start"].iloc[0] == pd.Timestamp("2026-01-21T08:55:00Z")

    def test_values(
        self, incident_timeline: fv.Timeline, incident_hits: list[dict[str, Any]]
    ) -> None:
        """Counts match the records; empty buckets have NaN shares and zero provider counts."""
        frame = incident_timeline.to_pandas()
        completion = frame[frame["feature"] == "completion"]
        empty = _row(completion, "start", pd.Timestamp("2026-01-21T08:58:00Z"))
        assert (empty["total"], empty["state"], empty["provider:gitlab"]) == (0, "empty", 0)
        assert math.isnan(empty["failover_share"])
        assert math.isnan(empty["primary_share"])
        switched = _row(completion, "start", pd.Timestamp("2026-01-21T10:02:00Z"))
        assert (switched["total"], switched["failover"], switched["state"]) == (7, 7, "failover")
        assert switched["failover_share"] == 1.0
        assert switched["provider:anthropic"] == 7
        providers = [name for name in frame.columns if name.startswith("provider:")]
        assert (frame[providers].sum(axis=1) == frame["total"]).all()
        total, failover, _ = _raw_completions(incident_hits)
        assert completion["total"].sum() == total == 900
        assert completion["failover"].sum() == failover


class TestReportFrame:
    def test_columns_and_dtypes(self, whole_report: fv.Report) -> None:
        """One row per feature with verdict, counts, shares and tz-aware first/last seen."""
        frame = whole_report.to_pandas()
        seen = [
            f"{role}_{edge}_seen"
            for role in ("primary", "failover", "unclassified")
            for edge in ("first", "last")
        ]
        assert list(frame.columns) == [
            "feature",
            "verdict",
            "reason",
            "total",
            "primary",
            "failover",
            "unclassified",
            "failover_share",
            "primary_share",
            *seen,
            "complete",
        ]
        assert str(frame["feature"].dtype) == "category"
        assert str(frame["verdict"].dtype) == "category"
        for name in ("total", "primary", "failover", "unclassified"):
            assert str(frame[name].dtype) == "int64"
        for name in ("failover_share", "primary_share"):
            assert str(frame[name].dtype) == "float64"
        for name in seen:
            assert str(frame[name].dtype) == "datetime64[ns, UTC]"
        assert str(frame["complete"].dtype) == "bool"

    def test_values(self, whole_report: fv.Report, incident_hits: list[dict[str, Any]]) -> None:
        """Values are the records': verdicts, counts and the moments each role was seen."""
        total, failover, first_failover = _raw_completions(incident_hits)
        row = _row(whole_report.to_pandas(), "feature", "completion")
        assert (row["verdict"], row["total"], row["failover"]) == ("mixed", total, failover)
        assert row["failover_first_seen"] == pd.Timestamp(first_failover)
        assert row["failover_first_seen"].tz is not None
        assert pd.isna(row["unclassified_first_seen"])
        assert bool(row["complete"])


class TestReportBreakdownFrame:
    def test_rows_columns_and_dtypes(self, failover_report: fv.Report) -> None:
        """One row per breakdown entry with grouped values, role, rule and resolved provider."""
        frame = failover_report.breakdown_frame()
        assert list(frame.columns) == [
            "feature",
            "signal",
            "model_engine",
            "model_name",
            "error",
            "model_class_provider",
            "model_identifier",
            "prompt_name",
            "model_provider",
            "prompt_id",
            "prompt_version",
            "count",
            "role",
            "rule",
            "provider",
            "model",
            "resolved_version",
            "first_seen",
            "last_seen",
        ]
        assert str(frame["count"].dtype) == "int64"
        assert str(frame["role"].dtype) == "category"
        assert str(frame["first_seen"].dtype) == "datetime64[ns, UTC]"
        assert len(frame) == 2  # one group per feature in the failover phase
        completion = _row(frame, "feature", "completion")
        generation = _row(frame, "feature", "generation")
        assert (completion["model_provider"], completion["provider"]) == ("anthropic", "anthropic")
        assert (completion["count"], completion["role"]) == (348, "failover")
        assert pd.isna(completion["prompt_version"])
        assert (generation["prompt_version"], generation["provider"]) == ("2.0.0", "vertex_ai")
        assert generation["model"] == "claude_sonnet_4_20250514_vertex"
        assert (completion["signal"], generation["signal"]) == ("input", "registry")
        assert generation["rule"] == (
            "incident_fail_over_generation_provider makes Rails request prompt version 2.0.0"
        )


def _png_size(data: bytes) -> tuple[int, int]:
    # The IHDR chunk, always first, holds width and height as big-endian 32-bit integers.
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _lines(axis: Axes, gid: str) -> list[Any]:
    return [line for line in axis.get_lines() if line.get_gid() == gid]


class TestPlotTimeline:
    def test_renders_png(self, incident_timeline: fv.Timeline) -> None:
        """The figure saves as a PNG of the documented size."""
        figure = incident_timeline.plot()
        assert isinstance(figure, Figure)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=100)
        data = buffer.getvalue()
        assert data.startswith(PNG_SIGNATURE)
        assert len(data) > 20_000
        assert _png_size(data) == (1200, 700)

    def test_axes_and_switch_marks(self, incident_timeline: fv.Timeline) -> None:
        """One subplot per feature sharing x; each switch has a line and a labelled time."""
        figure = incident_timeline.plot()
        completion, generation = figure.axes
        assert completion.get_shared_x_axes().joined(completion, generation)
        assert (completion.get_title(loc="left"), generation.get_title(loc="left")) == (
            "completion",
            "generation",
        )
        for axis, feature in ((completion, "completion"), (generation, "generation")):
            switches = [s for s in incident_timeline.switches if s.feature == feature]
            assert len(_lines(axis, "switch")) == len(switches) == 2
            assert len(_lines(axis, "threshold")) == 2
        labels = [text.get_text() for text in completion.texts]
        assert labels == ["→ failover 10:02 UTC", "→ primary 11:02 UTC"]

    def test_empty_and_sparse_buckets_are_gaps(self, incident_timeline: fv.Timeline) -> None:
        """Empty and sparse buckets break the share line instead of dropping it to 0%."""
        figure = incident_timeline.plot(features=["generation"])
        (axis,) = figure.axes
        (share,) = _lines(axis, "share")
        shares = list(share.get_ydata())
        points = incident_timeline.features["generation"]
        assert [math.isnan(value) for value in shares[: len(points)]] == [
            point.state in ("empty", "sparse") for point in points
        ]
        assert sum(point.state == "empty" for point in points) == 5
        (sparse,) = _lines(axis, "sparse")
        assert len(sparse.get_xdata()) == sum(point.state == "sparse" for point in points) > 0

    def test_draws_into_given_axes(self, incident_timeline: fv.Timeline) -> None:
        """Given axes are drawn into and their figure returned; a count mismatch is refused."""
        own = Figure()
        axis = own.subplots()
        assert incident_timeline.plot(ax=axis, features=["completion"]) is own
        assert len(_lines(axis, "switch")) == 2
        with pytest.raises(fv.UsageError, match="needs 2 axes, not 1"):
            incident_timeline.plot(ax=axis)
        with pytest.raises(fv.UsageError, match="no feature 'chat'"):
            incident_timeline.plot(features=["chat"])


def _planted_policy(note: str) -> fv.Policy:
    policy = fv.Policy.default()
    rules = tuple(rule.model_copy(update={"note": note}) for rule in policy.completion)
    return policy.model_copy(update={"rules": {**policy.rules, "completion": rules}})


class TestReportHtml:
    def test_verdicts_and_counts(self, failover_report: fv.Report) -> None:
        """The rich display shows each feature's verdict badge, counts and providers."""
        page = failover_report._repr_html_()
        assert page.count(">failover</span>") >= 2
        assert "348" in page
        assert "anthropic 348 (100%)" in page
        assert "2026-01-21 10:02:00Z to 11:00:00Z" in page
        assert ACTIVE_TAGS.search(page) is None

    def test_escapes_policy_notes_and_values(self, incident_hits: list[dict[str, Any]]) -> None:
        """A script in a policy note or a provider value is shown as text, never run."""
        planted = gl.completion_doc(
            datetime(2026, 1, 21, 10, 30, tzinfo=UTC),
            '<img src=x onerror="alert(1)">',
            "m",
            random.Random(1),
        )
        hits = [*incident_hits, {"_index": "i", "_id": "planted", "_source": planted}]
        report = fv.verify_hits(
            hits,
            since=FAILOVER_START,
            until=FAILOVER_END,
            policy=_planted_policy("<script>alert('note')</script>"),
        )
        page = report._repr_html_()
        assert ACTIVE_TAGS.search(page) is None
        assert "&lt;script&gt;alert(&#x27;note&#x27;)&lt;/script&gt;" in page
        assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page


class TestTimelineHtml:
    def test_states_and_switch_times(self, incident_timeline: fv.Timeline) -> None:
        """The rich display shows the last state per feature and every switch time."""
        page = incident_timeline._repr_html_()
        assert ">primary</span>" in page
        assert "→ failover at 2026-01-21 10:02:00Z" in page
        assert "→ primary at 2026-01-21 11:02:00Z" in page
        assert "5 empty" in page
        assert ACTIVE_TAGS.search(page) is None

    def test_escapes_problems(self, incident_timeline: fv.Timeline) -> None:
        """Problem text (which can quote a server error) is escaped and marks it partial."""
        broken = incident_timeline.model_copy(
            update={"complete": False, "problems": ["<script>alert('x')</script> refused"]}
        )
        page = broken._repr_html_()
        assert ACTIVE_TAGS.search(page) is None
        assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; refused" in page
        assert ">partial</span>" in page


def _outputs(notebook: Any, kind: Literal["stream", "html", "png", "error"]) -> list[str]:
    found = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if kind == "stream" and output["output_type"] == "stream":
                found.append(output["text"])
            elif kind == "error" and output["output_type"] == "error":
                found.append(f"{output['ename']}: {output['evalue']}")
            elif kind == "html" and "text/html" in output.get("data", {}):
                found.append(output["data"]["text/html"])
            elif kind == "png" and "image/png" in output.get("data", {}):
                found.append(output["data"]["image/png"])
    return found


class TestExampleNotebook:
    def test_stored_without_outputs(self) -> None:
        """The committed notebook holds no outputs, so it diffs cleanly."""
        notebook = _read_notebook()
        code = [cell for cell in notebook.cells if cell.cell_type == "code"]
        assert code
        assert all(not cell.outputs and cell.execution_count is None for cell in code)

    @pytest.mark.parametrize("folder", ["examples", "."])
    def test_runs_end_to_end(
        self, folder: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The notebook runs from examples/ or the root without a server and shows results."""
        # A kernel spec of our own, first on the Jupyter path, runs this interpreter (with the
        # package installed) whatever python3 kernel the user may have registered.
        spec = tmp_path / "kernels" / "python3"
        spec.mkdir(parents=True)
        argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        kernel = {"argv": argv, "display_name": "Python 3", "language": "python"}
        (spec / "kernel.json").write_text(json.dumps(kernel))
        monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
        notebook = _read_notebook()
        client = nbclient.NotebookClient(
            notebook,
            kernel_name="python3",
            timeout=180,
            resources={"metadata": {"path": str((ROOT / folder).resolve())}},
        )
        client.execute()
        assert _outputs(notebook, "error") == []
        printed = "".join(_outputs(notebook, "stream"))
        assert "completion: primary → failover at 2026-11-24 14:02 UTC" in printed
        assert "completion: failover → primary at 2026-11-24 15:01 UTC" in printed
        assert "generation: primary → failover at 2026-11-24 14:02 UTC" in printed
        assert "generation: failover → primary at 2026-11-24 15:02 UTC" in printed
        assert "completion: decided by served; served failover" in printed
        assert "before the flip, codestral-2508:" in printed
        pages = _outputs(notebook, "html")
        assert any("failover-verify report" in page and ">mixed</span>" in page for page in pages)
        assert any(
            "failover-verify report" in page and ">failover</span>" in page for page in pages
        )
        assert any("failover-verify timeline" in page for page in pages)
        assert len(_outputs(notebook, "png")) == 1


WITHOUT_EXTRA = textwrap.dedent(
    """
    import sys

    sys.modules["pandas"] = None
    sys.modules["matplotlib"] = None

    import failover_verify as fv

    hits = list(fv.read_ndjson(sys.argv[1]))
    report = fv.verify_hits(hits)
    timeline = fv.timeline_hits(hits)
    print("verdicts", *sorted(item.verdict for item in report.features.values()))
    print("html", "failover-verify report" in report._repr_html_())
    calls = {
        "timeline.to_pandas": timeline.to_pandas,
        "timeline.plot": timeline.plot,
        "report.to_pandas": report.to_pandas,
        "report.breakdown_frame": report.breakdown_frame,
    }
    for name, call in calls.items():
        try:
            call()
        except ImportError as exc:
            print(name, "ImportError:", exc)
        else:
            print(name, "worked")
    """
)


class TestWithoutNotebookExtra:
    def test_core_works_and_extras_say_what_to_install(self) -> None:
        """Without pandas and matplotlib the package works; the extras name what to install."""
        result = subprocess.run(
            [sys.executable, "-c", WITHOUT_EXTRA, str(FIXTURE)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        lines = dict(line.split(" ", 1) for line in result.stdout.splitlines())
        assert lines["verdicts"] == "mixed mixed"
        assert lines["html"] == "True"
        for name, package in [
            ("timeline.to_pandas", "pandas"),
            ("timeline.plot", "matplotlib"),
            ("report.to_pandas", "pandas"),
            ("report.breakdown_frame", "pandas"),
        ]:
            assert lines[name].startswith("ImportError: "), lines[name]
            assert f"needs {package}" in lines[name]
            assert INSTALL in lines[name]
