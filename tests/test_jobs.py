"""Scheduled runs: --expect flags (GitLab stub), --prometheus textfiles and --record-to history."""

from __future__ import annotations

import io
import json
import logging
import math
import os
import shlex
import socket
import stat
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from elasticsearch import Elasticsearch
from prometheus_client.parser import text_string_to_metric_families

import gateway_logs as gl
from esdata import completions, generations, index_gateway_records
from failover_verify import (
    ConfigurationError,
    Expectation,
    UsageError,
    metrics_text,
    read_flags,
    verify_hits,
)
from failover_verify._cli import build_parser, main
from failover_verify._flags import flags_from_features_api, flags_from_graphql
from failover_verify._source import read_ndjson
from gitlab_stub import Flag, GitLabStub, off, on, percentage

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "fixtures" / "incident-2026-01.ndjson"
T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
RUN_TIME = datetime(2026, 3, 2, 14, 31, 7, tzinfo=UTC)
TOKEN = "glpat-planted-jobs-token-4417"  # noqa: S105 - a planted token, checked for leaks
COMPLETION_FLAG = "incident_fail_over_completion_provider"
GENERATION_FLAG = "incident_fail_over_generation_provider"
WINDOW = ["--since", T0.isoformat(), "--until", (T0 + timedelta(minutes=30)).isoformat()]
VERDICTS = {"primary", "failover", "mixed", "no_data", "inconclusive"}


def cli(*argv: str, env: dict[str, str], **kwargs: Any) -> tuple[int, str, str]:
    """Run the CLI in-process at RUN_TIME; the planted token must show nowhere."""
    out, err = io.StringIO(), io.StringIO()
    kwargs.setdefault("now", lambda: RUN_TIME)
    code = main(list(argv), env=env, stdout=out, stderr=err, **kwargs)
    assert TOKEN not in out.getvalue()
    assert TOKEN not in err.getvalue()
    return code, out.getvalue(), err.getvalue()


def families(path: Path) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Metric name -> {sorted labels: value}, read with prometheus-client's own parser."""
    text = path.read_text("utf-8")
    assert TOKEN not in text
    parsed: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = tuple(sorted(sample.labels.items()))
            parsed.setdefault(sample.name, {})[key] = sample.value
    return parsed


def closed_port_url() -> str:
    """An http URL on loopback where nothing listens (the port was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def gitlab() -> Iterator[GitLabStub]:
    stub = GitLabStub(token=TOKEN).start()
    yield stub
    stub.stop()


@pytest.fixture
def failover_index(es_client: Elasticsearch, es_index: str) -> str:
    """60 completion and 40 generation records, all on the failover side, in 30 minutes."""
    index_gateway_records(
        es_client,
        f"{es_index}-logs",
        completions(T0, 30, 60, "failover") + generations(T0, 30, 40, "failover"),
    )
    return f"{es_index}-logs*"


def flag_env(es_url: str, stub: GitLabStub) -> dict[str, str]:
    return {"ES_URL": es_url, "GITLAB_URL": stub.url, "GITLAB_TOKEN": TOKEN}


class TestExpectation:
    def test_one_verdict_means_what_expect_meant(self) -> None:
        """Report.meets with an Expectation per feature agrees with the plain --expect string."""
        start = gl.ERAS["2026-01"].start + timedelta(minutes=gl.FLIP + gl.ROLLOUT)
        report = verify_hits(read_ndjson(FIXTURE), since=start, until=start + timedelta(minutes=50))
        for verdict in ("primary", "failover"):
            per_feature = dict.fromkeys(report.features, Expectation.verdict(verdict))
            assert report.meets(per_feature) == report.meets(verdict)
        assert report.meets("failover") is True

    def test_partial_rollout_allows_any_definite_verdict(self) -> None:
        """A partial rollout allows primary, failover and mixed, never no_data or inconclusive."""
        partial = Expectation.partial()
        assert partial.label == "mixed or either"
        assert all(partial.allows(v) for v in ("primary", "failover", "mixed"))
        assert not any(partial.allows(v) for v in ("no_data", "inconclusive"))

    def test_every_feature_needs_an_expectation(self) -> None:
        """A per-feature expectation that leaves a feature out is refused, naming it."""
        report = verify_hits(read_ndjson(FIXTURE))
        with pytest.raises(UsageError, match="generation"):
            report.meets({"completion": Expectation.verdict("failover")})


class TestFlagAnswers:
    def test_absent_flag_is_off(self) -> None:
        """A flag missing from the features API was never set: off, so primary is expected."""
        flags = flags_from_features_api([], ["completion"])
        assert flags["completion"].state == "off"
        assert flags["completion"].expectation.allows_verdicts == ("primary",)
        assert "never set" in flags["completion"].detail

    @pytest.mark.parametrize(
        ("state", "gates", "expected"),
        [
            ("on", [{"key": "boolean", "value": True}], "failover"),
            ("off", [{"key": "boolean", "value": False}], "primary"),
            ("on", [{"key": "percentage_of_time", "value": 100}], "failover"),
            ("on", [{"key": "percentage_of_actors", "value": 34}], "mixed or either"),
            ("conditional", [{"key": "actors", "value": ["User:1"]}], "mixed or either"),
            ("conditional", [{"key": "percentage_of_time", "value": 25}], "mixed or either"),
        ],
        ids=["on", "off", "100-percent", "on-beside-34-percent", "actor", "25-percent"],
    )
    def test_states_and_gates(self, state: str, gates: list[dict[str, Any]], expected: str) -> None:
        """On expects failover, off primary, and a partial gate mixed or either, whatever state."""
        entry = {"name": COMPLETION_FLAG, "state": state, "gates": gates}
        flag = flags_from_features_api([entry], ["completion"])["completion"]
        assert flag.expectation.label == expected

    def test_graphql_answer(self) -> None:
        """GraphQL's enabled true/false reads as on/off, and says partial rollouts do not show."""
        answer = {
            "metadata": {
                "featureFlags": [
                    {"name": COMPLETION_FLAG, "enabled": True},
                    {"name": GENERATION_FLAG, "enabled": False},
                ]
            }
        }
        flags = flags_from_graphql(answer, ["completion", "generation"])
        assert (flags["completion"].state, flags["generation"].state) == ("on", "off")
        assert flags["completion"].source == "GraphQL"
        assert "cannot show a partial rollout" in flags["completion"].detail


class TestMissingExtra:
    @pytest.mark.parametrize(
        ("module", "argv"),
        [
            ("prometheus_client", ["--prometheus", "PATH"]),
            ("gitlab", ["--expect", "flags"]),
        ],
        ids=["prometheus-client", "python-gitlab"],
    )
    def test_error_names_the_extra(
        self,
        module: str,
        argv: list[str],
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        refused_url: str,
    ) -> None:
        """Without the jobs extra the error says: pip install 'failover-verify[jobs]' (exit 4)."""
        monkeypatch.setitem(sys.modules, module, None)
        args = [str(tmp_path / "m.prom") if arg == "PATH" else arg for arg in argv]
        env = {"GITLAB_URL": refused_url, "GITLAB_TOKEN": TOKEN}
        code, _, err = cli("status", "--source", str(FIXTURE), *args, env=env)
        assert code == 4
        assert "pip install 'failover-verify[jobs]'" in err


class TestPrometheus:
    def test_textfile_holds_the_report(
        self, es_url: str, failover_index: str, tmp_path: Path
    ) -> None:
        """--prometheus writes exact counts, shares, every verdict, ok and the run time."""
        path = tmp_path / "failover-verify.prom"
        argv = ["status", "--index", failover_index, *WINDOW, "--prometheus", str(path)]
        code, _, err = cli(*argv, env={"ES_URL": es_url})
        assert (code, err) == (0, "")
        metrics = families(path)
        records = metrics["failover_verify_records"]
        assert records[(("feature", "completion"), ("role", "failover"))] == 60
        assert records[(("feature", "completion"), ("role", "primary"))] == 0
        assert records[(("feature", "completion"), ("role", "unclassified"))] == 0
        assert records[(("feature", "generation"), ("role", "failover"))] == 40
        assert (
            metrics["failover_verify_share"][(("feature", "generation"), ("role", "failover"))] == 1
        )
        verdicts = metrics["failover_verify_verdict"]
        for feature in ("completion", "generation"):
            shown = {
                dict(key)["verdict"]: value
                for key, value in verdicts.items()
                if dict(key)["feature"] == feature
            }
            assert set(shown) == VERDICTS
            assert shown == {v: (1 if v == "failover" else 0) for v in VERDICTS}
        assert "failover_verify_ok" not in metrics  # no expectation, no ok
        assert metrics["failover_verify_last_run_timestamp_seconds"][()] == RUN_TIME.timestamp()
        assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left

        code, _, _ = cli(*argv, "--expect", "primary", env={"ES_URL": es_url})
        assert code == 1
        assert families(path)["failover_verify_ok"][()] == 0
        code, _, _ = cli(*argv, "--expect", "failover", env={"ES_URL": es_url})
        assert code == 0
        assert families(path)["failover_verify_ok"][()] == 1
        expected = families(path)["failover_verify_expected"]
        assert expected[(("feature", "completion"), ("verdict", "failover"))] == 1
        assert expected[(("feature", "completion"), ("verdict", "mixed"))] == 0

    def test_cannot_tell_is_nan(self, es_url: str, failover_index: str, tmp_path: Path) -> None:
        """With an expectation but no data, ok is NaN and the shares are NaN (exit 3)."""
        path = tmp_path / "m.prom"
        empty = ["--since", "2026-03-01T00:00Z", "--until", "2026-03-01T01:00Z"]
        argv = ["status", "--index", failover_index, *empty, "--expect", "failover"]
        code, _, _ = cli(*argv, "--prometheus", str(path), env={"ES_URL": es_url})
        assert code == 3
        metrics = families(path)
        assert math.isnan(metrics["failover_verify_ok"][()])
        assert math.isnan(
            metrics["failover_verify_share"][(("feature", "completion"), ("role", "failover"))]
        )
        verdict = metrics["failover_verify_verdict"]
        assert verdict[(("feature", "completion"), ("verdict", "no_data"))] == 1

    def test_watch_writes_the_final_report(
        self, es_url: str, failover_index: str, tmp_path: Path
    ) -> None:
        """watch --prometheus writes the metrics of the report it ends with."""
        path = tmp_path / "watch.prom"
        clock = {"now": T0 + timedelta(minutes=20)}

        def sleep(seconds: float) -> None:
            clock["now"] += timedelta(seconds=seconds)

        code, _, _ = cli(
            "watch",
            "--index",
            failover_index,
            "--expect",
            "failover",
            "--window",
            "5m",
            "--min-count",
            "5",
            "--prometheus",
            str(path),
            env={"ES_URL": es_url},
            now=lambda: clock["now"],
            sleep=sleep,
        )
        assert code == 0
        metrics = families(path)
        assert metrics["failover_verify_ok"][()] == 1
        assert (
            metrics["failover_verify_records"][(("feature", "completion"), ("role", "failover"))]
            == 10
        )

    def test_unwritable_folder(self, tmp_path: Path) -> None:
        """A metrics file in a folder that does not exist is an error that names it (exit 4)."""
        target = tmp_path / "missing" / "m.prom"
        code, _, err = cli("status", "--source", str(FIXTURE), "--prometheus", str(target), env={})
        assert code == 4
        assert "does not exist" in err
        assert str(target.parent) in err

    def test_not_a_regular_file(self, tmp_path: Path) -> None:
        """A metrics path that is a pipe or device is refused (exit 4) and left as it was:
        the textfile is written beside it and renamed over it, which would replace it."""
        pipe = tmp_path / "metrics.prom"
        os.mkfifo(pipe)
        code, _, err = cli("status", "--source", str(FIXTURE), "--prometheus", str(pipe), env={})
        assert code == 4
        assert f"cannot write the metrics file {pipe}: it is not a regular file" in err
        assert stat.S_ISFIFO(pipe.stat().st_mode)
        assert [path.name for path in tmp_path.iterdir()] == ["metrics.prom"]

    def test_signal_series(self) -> None:
        """Each feature's signals get their own series: records per role and the verdict; the
        served records add calls and error share per model."""
        today = FIXTURE.parent / "incident-2026-11.ndjson"
        report = verify_hits(
            read_ndjson(today), since="2026-11-24T13:30Z", until="2026-11-24T14:00Z"
        )
        text = metrics_text(report, run_time=RUN_TIME)
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text)
            for s in f.samples
        }
        served = report.features["completion"].signals["served"]
        key = (("feature", "completion"), ("role", "primary"), ("signal", "served"))
        assert samples[("failover_verify_signal_records", key)] == served.primary > 0
        key = (("feature", "completion"), ("role", "primary"), ("signal", "input"))
        assert samples[("failover_verify_signal_records", key)] == (
            report.features["completion"].signals["input"].primary
        )
        verdict = (("feature", "generation"), ("signal", "served"), ("verdict", "primary"))
        assert samples[("failover_verify_signal_verdict", verdict)] == 1
        errors = report.features["completion"].errors_by_model["codestral-2508"]
        model = (("feature", "completion"), ("model", "codestral-2508"))
        assert samples[("failover_verify_model_calls", model)] == errors.calls
        assert samples[("failover_verify_model_error_share", model)] == errors.error_share
        assert errors.errors > 0


class TestRecord:
    def test_document_mapping_and_aggregation(
        self, es_url: str, es_client: Elasticsearch, es_index: str, failover_index: str
    ) -> None:
        """--record-to appends one document per run, and verdicts aggregate with terms."""
        history = f"{es_index}-history"
        argv = ["status", "--index", failover_index, *WINDOW, "--record-to", history]
        for expect in ("failover", "primary"):
            code, out, err = cli(*argv, "--expect", expect, env={"ES_URL": es_url})
            assert code == (0 if expect == "failover" else 1), err
            assert f"recorded the report to {history}" in out
        es_client.indices.refresh(index=history)

        mapping = es_client.indices.get_mapping(index=history)[history]["mappings"]
        feature = mapping["properties"]["features"]["properties"]["completion"]["properties"]
        assert feature["verdict"]["type"] == "keyword"
        assert feature["total"]["type"] == "long"
        assert feature["query"]["enabled"] is False
        assert feature["breakdown"]["enabled"] is False
        assert feature["kibana_url"]["index"] is False
        # A window ended early says where: both edges are dates, for range queries on history.
        window = mapping["properties"]["window"]["properties"]
        assert {window[key]["type"] for key in ("requested_to", "searchable_until")} == {"date"}

        result = es_client.search(
            index=history,
            size=2,
            sort=[{"exit_code": "asc"}],
            aggs={
                "verdicts": {"terms": {"field": "features.completion.verdict"}},
                "expects": {"terms": {"field": "expect"}},
                "records": {"sum": {"field": "features.generation.failover"}},
            },
        )
        hits = [hit["_source"] for hit in result["hits"]["hits"]]
        assert [hit["exit_code"] for hit in hits] == [0, 1]
        assert hits[0]["@timestamp"] == "2026-03-02T14:31:07Z"
        assert hits[0]["features"]["completion"]["verdict"] == "failover"
        assert hits[0]["features"]["completion"]["query"] is not None  # stored, not indexed
        aggs = result["aggregations"]
        assert [(b["key"], b["doc_count"]) for b in aggs["verdicts"]["buckets"]] == [
            ("failover", 2)
        ]
        assert {b["key"] for b in aggs["expects"]["buckets"]} == {"failover", "primary"}
        assert aggs["records"]["value"] == 80

    def test_a_matching_template_decides_the_mapping(
        self, es_url: str, es_client: Elasticsearch, es_index: str, failover_index: str
    ) -> None:
        """An index template that matches the name is left to create the index."""
        template = f"{es_index}-template"
        es_client.indices.put_index_template(
            name=template,
            index_patterns=[f"{es_index}-tpl*"],
            template={"mappings": {"properties": {"ok": {"type": "keyword"}}}},
        )
        try:
            code, out, _ = cli(
                "status",
                "--index",
                failover_index,
                *WINDOW,
                "--record-to",
                f"{es_index}-tpl",
                env={"ES_URL": es_url},
            )
            assert code == 0
            assert "created with the history mapping" not in out
            mapping = es_client.indices.get_mapping(index=f"{es_index}-tpl")
            assert mapping[f"{es_index}-tpl"]["mappings"]["properties"]["ok"]["type"] == "keyword"
        finally:
            es_client.indices.delete_index_template(name=template)

    def test_failure_is_reported_and_strict_makes_it_fail(
        self, es_url: str, failover_index: str
    ) -> None:
        """A recording failure is said on stderr and keeps the code unless --strict-record (4)."""
        argv = [
            "status",
            "--index",
            failover_index,
            *WINDOW,
            "--record-to",
            "history",
            "--record-es-url",
            closed_port_url(),
            "--retries",
            "0",
        ]
        code, out, err = cli(*argv, env={"ES_URL": es_url})
        assert code == 0
        assert "could not record the report to history" in err
        assert "OK: completion failover" in out
        code, _, err = cli(*argv, "--strict-record", env={"ES_URL": es_url})
        assert code == 4
        assert "--strict-record" in err

    def test_options_need_record_to(self, refused_url: str) -> None:
        """--strict-record or --record-es-url without --record-to is a usage error (exit 2)."""
        for extra in (["--strict-record"], ["--record-es-url", refused_url]):
            code, _, err = cli("status", "--source", str(FIXTURE), *extra, env={})
            assert code == 2
            assert "needs --record-to" in err


class TestExpectFlags:
    def test_flag_on_and_failover_traffic(
        self, es_url: str, failover_index: str, gitlab: GitLabStub
    ) -> None:
        """Both flags on against failover traffic: exit 0, each flag's state and source shown."""
        gitlab.flags = [on(COMPLETION_FLAG), on(GENERATION_FLAG)]
        argv = ["status", "--index", failover_index, *WINDOW, "--expect", "flags"]
        code, out, err = cli(*argv, env=flag_env(es_url, gitlab))
        assert (code, err) == (0, "")
        assert "incident flags (GitLab " in out
        assert "features API" in out
        assert f"{COMPLETION_FLAG}  on → expects failover" in out
        assert "OK: completion failover, generation failover (expected completion failover" in out

        code, out, _ = cli(*argv, "--json", env=flag_env(es_url, gitlab))
        data = json.loads(out)
        assert (code, data["ok"], data["expect"]) == (0, True, "flags")
        assert data["flags"]["source"] == "features API"
        assert data["flags"]["flags"]["completion"]["state"] == "on"
        assert data["expectations"]["generation"]["allows"] == ["failover"]
        assert TOKEN not in out

    def test_flag_off_and_failover_traffic(
        self, es_url: str, failover_index: str, gitlab: GitLabStub
    ) -> None:
        """A flag that is off (or never set) against failover traffic contradicts it: exit 1."""
        gitlab.flags = [off(COMPLETION_FLAG)]
        code, out, _ = cli(
            "status",
            "--index",
            failover_index,
            *WINDOW,
            "--expect",
            "flags",
            env=flag_env(es_url, gitlab),
        )
        assert code == 1
        assert "NOT AS EXPECTED" in out
        assert f"{GENERATION_FLAG}  off → expects primary" in out
        assert "never set" in out

    def test_cannot_tell(self, es_url: str, failover_index: str, gitlab: GitLabStub) -> None:
        """No records in the window: exit 3, whatever the flags say."""
        gitlab.flags = [on(COMPLETION_FLAG), on(GENERATION_FLAG)]
        code, out, _ = cli(
            "status",
            "--index",
            failover_index,
            "--since",
            "2026-03-01T00:00Z",
            "--until",
            "2026-03-01T01:00Z",
            "--expect",
            "flags",
            env=flag_env(es_url, gitlab),
        )
        assert code == 3
        assert "CANNOT TELL" in out

    def test_partial_rollout(
        self, es_url: str, es_client: Elasticsearch, es_index: str, gitlab: GitLabStub
    ) -> None:
        """A percentage rollout expects mixed or either, says so, and accepts mixed traffic."""
        index_gateway_records(
            es_client,
            f"{es_index}-split",
            completions(T0, 30, 30, "failover") + completions(T0, 30, 30, "primary", seed=5),
        )
        gitlab.flags = [percentage(COMPLETION_FLAG, 50)]
        code, out, _ = cli(
            "status",
            "--index",
            f"{es_index}-split*",
            *WINDOW,
            "--feature",
            "completion",
            "--expect",
            "flags",
            env=flag_env(es_url, gitlab),
        )
        assert code == 0
        assert "completion mixed" in out
        assert "expects mixed or either (partial rollout)" in out
        assert "percentage_of_time 50%" in out

    def test_graphql_when_not_admin(
        self, es_url: str, failover_index: str, gitlab: GitLabStub
    ) -> None:
        """A 403 from the features API falls back to GraphQL, and the report says so."""
        gitlab.admin = False
        gitlab.flags = [on(COMPLETION_FLAG), Flag(GENERATION_FLAG, "on")]
        code, out, _ = cli(
            "status",
            "--index",
            failover_index,
            *WINDOW,
            "--expect",
            "flags",
            "--json",
            env=flag_env(es_url, gitlab),
        )
        data = json.loads(out)
        assert code == 0
        assert data["flags"]["source"] == "GraphQL"
        assert data["flags"]["flags"]["completion"]["source"] == "GraphQL"
        assert "403" in data["flags"]["notes"][0]
        assert [(e.method, e.path, e.status) for e in gitlab.exchanges] == [
            ("GET", "/api/v4/features", 403),
            ("POST", "/api/graphql", 200),
        ]

    def test_gitlab_unreachable(self, es_url: str, failover_index: str) -> None:
        """GitLab that cannot be reached is a clear error naming GITLAB_URL: exit 4."""
        env = {"ES_URL": es_url, "GITLAB_URL": closed_port_url(), "GITLAB_TOKEN": TOKEN}
        code, out, err = cli(
            "status", "--index", failover_index, *WINDOW, "--expect", "flags", env=env
        )
        assert (code, out) == (4, "")
        assert "cannot reach GitLab at http://127.0.0.1:" in err
        assert "check GITLAB_URL" in err
        assert err.count("\n") == 1

    def test_refused_token_and_missing_settings(self, gitlab: GitLabStub) -> None:
        """A refused token or unset GITLAB_* variables are errors that say what to set: exit 4."""
        env = {"GITLAB_URL": gitlab.url, "GITLAB_TOKEN": TOKEN + "-wrong"}
        code, _, err = cli("status", "--source", str(FIXTURE), "--expect", "flags", env=env)
        assert code == 4
        assert "refused GITLAB_TOKEN (401)" in err
        assert TOKEN not in err
        code, _, err = cli(
            "status",
            "--source",
            str(FIXTURE),
            "--expect",
            "flags",
            env={"GITLAB_URL": gitlab.url},
        )
        assert code == 4
        assert "GITLAB_TOKEN is not set" in err

    def test_watch_refuses_flags(self) -> None:
        """watch --expect flags is a usage error pointing to status --expect flags (exit 2)."""
        code, _, err = cli("watch", "--expect", "flags", env={})
        assert code == 2
        assert "status --expect flags" in err

    def test_token_never_shown(
        self,
        *,
        es_url: str,
        es_client: Elasticsearch,
        es_index: str,
        failover_index: str,
        gitlab: GitLabStub,
        tmp_path: Path,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """The token shows nowhere: output, errors, JSON, logs, metrics, history or reprs."""
        caplog.set_level(logging.DEBUG)
        history = f"{es_index}-history"
        prom = tmp_path / "m.prom"
        base = ["status", "--index", failover_index, *WINDOW, "--expect", "flags"]
        outputs: list[str] = []
        for admin in (True, False):
            gitlab.admin = admin
            for extra in ([], ["--json", "--prometheus", str(prom), "--record-to", history]):
                code, out, err = cli("--debug", *base, *extra, env=flag_env(es_url, gitlab))
                assert code == 1, err  # the flags are off, the traffic on failover
                outputs += [out, err, prom.read_text() if prom.exists() else ""]
        # Error bodies from the stub echo the request's headers, token included.
        gitlab.flags, gitlab.admin = [], True
        bad = dict(flag_env(es_url, gitlab), GITLAB_TOKEN=TOKEN + "x")
        code, out, err = cli("--debug", *base, env=bad)
        assert code == 4
        assert "headers" in err  # the echoed headers did reach the message, scrubbed
        outputs += [out, err]
        reading = read_flags(gitlab.url, TOKEN)
        outputs += [repr(reading), str(reading), reading.model_dump_json()]
        es_client.indices.refresh(index=history)
        outputs.append(json.dumps(es_client.search(index=history)["hits"]["hits"]))
        outputs.append(caplog.text)
        for text in outputs:
            assert TOKEN not in text


class TestExamples:
    def _commands(self) -> list[list[str]]:
        commands = []
        cronjob = yaml.safe_load((ROOT / "examples" / "cronjob.yaml").read_text())
        container = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
        commands.append([*container["command"], *container["args"]])
        service = (ROOT / "examples" / "failover-verify.service").read_text()
        exec_start = next(
            line.split("=", 1)[1] for line in service.splitlines() if line.startswith("ExecStart=")
        )
        commands.append(shlex.split(exec_start))
        return commands

    def test_examples_run_a_valid_command(self) -> None:
        """The CronJob and the systemd unit run status --expect flags --prometheus --record-to."""
        commands = self._commands()
        assert len(commands) == 2
        for command in commands:
            assert Path(command[0]).name == "failover-verify"
            args = build_parser().parse_args(command[1:])
            assert args.command == "status"
            assert args.expect == "flags"
            assert args.prometheus is not None
            assert args.record_to

    def test_timer_and_secrets(self) -> None:
        """The timer starts the service, and neither example puts a secret on a command line."""
        timer = (ROOT / "examples" / "failover-verify.timer").read_text()
        assert "OnCalendar=" in timer or "OnUnitActiveSec=" in timer
        for command in self._commands():
            joined = " ".join(command)
            assert "TOKEN" not in joined
            assert "API_KEY" not in joined


def test_expectation_reads_from_flags_without_network() -> None:
    """A reading's expectations follow the flags: partial rollouts are mixed or either."""
    flags = flags_from_features_api(
        [{"name": GENERATION_FLAG, "state": "conditional", "gates": []}],
        ["completion", "generation"],
    )
    assert flags["completion"].expectation.single == "primary"
    assert flags["generation"].expectation.single is None
    with pytest.raises(ConfigurationError, match="http"):
        read_flags("gitlab.example.com", TOKEN)
