"""The command line: each command against the real node, output, and exit codes."""

from __future__ import annotations

import importlib.metadata
import io
import json
import os
import random
import stat
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import prison
import pytest
from elasticsearch import Elasticsearch

import failover_verify as fv
import gateway_logs as gl
from esdata import (
    GENERATION,
    Role,
    completions,
    generations,
    index_gateway_records,
    timed,
)
from failover_verify._cli import main

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "fixtures" / "incident-2026-01.ndjson"
T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
ERA = gl.ERAS["2026-01"]
COMPLETION_MODELS = {
    "primary": ("vertex-ai", "codestral-2501"),
    "failover": ("anthropic", "claude-sonnet-4-20250514"),
}
GENERATIONS_ID = "code_suggestions/generations/base"


def _next_refresh(after: datetime) -> datetime:
    """The next refresh of a 30 s index whose refreshes fall at :15 and :45, after ``after``."""
    seconds = int(after.timestamp())
    return datetime.fromtimestamp(seconds - (seconds - 15) % 30 + 30, UTC)


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def cli(*argv: str, env: dict[str, str] | None = None, **kwargs: Any) -> tuple[int, str, str]:
    """Run the CLI in-process; returns (exit code, stdout, stderr)."""
    out, err = kwargs.pop("stdout", io.StringIO()), io.StringIO()
    code = main(list(argv), env=env or {}, stdout=out, stderr=err, **kwargs)
    return code, out.getvalue(), err.getvalue()


# Stands for the refused_url fixture in parametrized argv lists, which are built before it exists.
REFUSED = "http://refused.invalid"


def _with_url(argv: list[str], url: str) -> list[str]:
    return [url if item == REFUSED else item for item in argv]


def window_args(start: datetime, minutes: int) -> list[str]:
    return [
        "--since",
        start.isoformat(),
        "--until",
        (start + timedelta(minutes=minutes)).isoformat(),
    ]


@pytest.fixture
def failover_data(es_client: Elasticsearch, es_index: str) -> str:
    index_gateway_records(
        es_client,
        f"{es_index}-a",
        completions(T0, 30, 60, "failover") + generations(T0, 30, 40, "failover"),
    )
    return f"{es_index}*"


class TestStatusOffline:
    def test_bundled_fixture(self) -> None:
        """`status --source` on the bundled fixture shows both features mixed and exits 0."""
        code, out, err = cli("status", "--source", str(FIXTURE))
        assert (code, err) == (0, "")
        assert "completion    MIXED" in out
        assert "generation    MIXED" in out
        assert "the window is the span of the records" in out
        assert "\033[" not in out

    def test_failover_phase_with_expectation(self) -> None:
        """A window inside the failover phase meets --expect failover (0) and fails primary (1)."""
        start = ERA.start + timedelta(minutes=gl.FLIP + gl.ROLLOUT)
        args = ["status", "--source", str(FIXTURE), *window_args(start, 50)]
        assert cli(*args, "--expect", "failover")[0] == 0
        code, out, _ = cli(*args, "--expect", "primary")
        assert code == 1
        assert "NOT AS EXPECTED" in out

    def test_json_schema(self) -> None:
        """--json prints the documented top-level and per-feature keys."""
        code, out, _ = cli("status", "--source", str(FIXTURE), "--json", "--expect", "failover")
        data = json.loads(out)
        assert code == 1
        assert data["ok"] is False
        assert data["expect"] == "failover"
        assert set(data["window"]) >= {"from", "to"}
        assert data["index"] == "pubsub-mlops-inf-gprd-*,pubsub-mlops-inf-gprod-*"
        for name in ("completion", "generation"):
            feature = data["features"][name]
            for key in (
                "verdict",
                "total",
                "primary",
                "failover",
                "unclassified",
                "failover_share",
                "by_provider",
                "complete",
                "kibana_url",
            ):
                assert key in feature, key

    def test_ok_is_null_without_expect(self) -> None:
        """Without --expect, `ok` is null."""
        data = json.loads(cli("status", "--source", str(FIXTURE), "--json")[1])
        assert data["ok"] is None

    def test_colour_only_on_a_terminal(self) -> None:
        """Verdicts are coloured on a terminal, and plain with NO_COLOR."""
        _, coloured, _ = cli("status", "--source", str(FIXTURE), stdout=_Tty())
        assert "\033[" in coloured
        _, plain, _ = cli("status", "--source", str(FIXTURE), env={"NO_COLOR": "1"}, stdout=_Tty())
        assert "\033[" not in plain


class TestStatusLive:
    def test_expectation_met_and_not(self, es_url: str, failover_data: str) -> None:
        """Against the node: --expect failover exits 0, --expect primary exits 1."""
        env = {"ES_URL": es_url}
        base = ["status", "--index", failover_data, *window_args(T0, 30)]
        code, out, _ = cli(*base, "--expect", "failover", env=env)
        assert code == 0
        assert "OK: completion failover, generation failover (expected failover)" in out
        assert cli(*base, "--expect", "primary", env=env)[0] == 1

    def test_cannot_tell(self, es_url: str, failover_data: str) -> None:
        """No data, too few records and a pattern matching nothing all exit 3."""
        env = {"ES_URL": es_url}
        empty = cli(
            "status", "--index", failover_data, *window_args(T0 + timedelta(hours=2), 10), env=env
        )
        assert empty[0] == 3
        assert "NO DATA" in empty[1]
        few = cli(
            "status", "--index", failover_data, *window_args(T0, 30), "--min-count", "100", env=env
        )
        assert few[0] == 3
        wrong = cli("status", "--index", "pubsub-mlops-inf-gprd-*", *window_args(T0, 30), env=env)
        assert wrong[0] == 3
        assert "matches no index" in wrong[1]

    def test_one_feature(self, es_url: str, failover_data: str) -> None:
        """--feature limits the check and the JSON to one feature."""
        code, out, _ = cli(
            "status",
            "--index",
            failover_data,
            "--feature",
            "generation",
            "--json",
            *window_args(T0, 30),
            env={"ES_URL": es_url},
        )
        assert code == 0
        assert list(json.loads(out)["features"]) == ["generation"]


class TestStatusOptions:
    def test_cannot_tell_is_3_even_with_expect(self, es_url: str, failover_data: str) -> None:
        """An inconclusive feature with --expect exits 3, not 1, unless another contradicts."""
        env = {"ES_URL": es_url}
        base = ["status", "--index", failover_data, *window_args(T0, 30)]
        # 60 completions and 40 generations: at --min-count 100 both are too few.
        assert cli(*base, "--min-count", "100", "--expect", "failover", env=env)[0] == 3
        assert cli(*base, "--min-count", "100", "--expect", "primary", env=env)[0] == 3
        # At 50, completion (60) is failover and generation (40) cannot be told.
        assert cli(*base, "--min-count", "50", "--expect", "failover", env=env)[0] == 3
        code, out, _ = cli(*base, "--min-count", "50", "--expect", "primary", env=env)
        assert code == 1
        assert "NOT AS EXPECTED: completion failover, generation inconclusive" in out

    @pytest.mark.parametrize(("threshold", "code"), [("0.85", 0), ("0.86", 1)])
    def test_threshold_option(
        self, es_url: str, es_client: Elasticsearch, es_index: str, threshold: str, code: int
    ) -> None:
        """--threshold decides: 85% failover meets failover at 0.85 and is mixed at 0.86."""
        documents = completions(T0, 10, 85, "failover") + completions(T0, 10, 15, "primary", seed=4)
        index_gateway_records(es_client, f"{es_index}-a", documents)
        result, out, _ = cli(
            "status",
            "--index",
            f"{es_index}*",
            "--feature",
            "completion",
            "--threshold",
            threshold,
            "--expect",
            "failover",
            "--json",
            *window_args(T0, 11),
            env={"ES_URL": es_url},
        )
        report = json.loads(out)
        assert result == code
        assert report["threshold"] == float(threshold)
        assert report["features"]["completion"]["verdict"] == ("failover" if code == 0 else "mixed")

    def test_time_field_option(self, es_url: str, es_client: Elasticsearch, es_index: str) -> None:
        """--time-field moves the window onto that field: event times an hour early count there."""
        documents = completions(T0, 10, 30, "failover")
        for document in documents:
            moment = datetime.fromisoformat(document["@timestamp"])
            document["json"]["jsonPayload"]["timestamp"] = (moment - timedelta(hours=1)).isoformat()
        index_gateway_records(es_client, f"{es_index}-a", documents)
        base = [
            "status",
            "--index",
            f"{es_index}*",
            "--feature",
            "completion",
            "--json",
            *window_args(T0 - timedelta(hours=1), 11),
        ]
        env = {"ES_URL": es_url}
        by_event = json.loads(cli(*base, "--time-field", "json.jsonPayload.timestamp", env=env)[1])
        assert by_event["time_field"] == "json.jsonPayload.timestamp"
        assert by_event["features"]["completion"]["total"] == 30
        by_ingest = json.loads(cli(*base, env=env)[1])
        assert by_ingest["features"]["completion"]["total"] == 0

    def test_json_timestamp_on_the_real_mapping(
        self, tmp_path: Path, es_url: str, es_client: Elasticsearch, es_index: str
    ) -> None:
        """--time-field json.timestamp windows on the log's own time, says so in the text and
        the JSON, and an export read back offline on that field counts the same records."""
        rng = random.Random(32)
        documents = []
        for number in range(31):
            logged = T0 - timedelta(milliseconds=500) + timedelta(seconds=10) * number
            role: Role = "primary" if number == 0 else "failover"
            documents.append(
                timed(
                    gl.completion_doc(logged, *COMPLETION_MODELS[role], rng),
                    ingest=logged + timedelta(seconds=1),
                    logged=logged,
                )
            )
        alias = f"{es_index}-gprd"
        index_gateway_records(es_client, alias, documents)
        env = {"ES_URL": es_url}
        window = [*window_args(T0, 5), "--feature", "completion", "--min-count", "1"]
        field = ["--time-field", "json.timestamp"]
        code, out, _ = cli("status", "--index", alias, *window, *field, "--json", env=env)
        data = json.loads(out)
        completion = data["features"]["completion"]
        assert (code, data["time_field"]) == (0, "json.timestamp")
        assert (completion["primary"], completion["failover"]) == (0, 30)
        _, text, _ = cli("status", "--index", alias, *window, *field, env=env)
        assert "time field: json.timestamp (the log entry's own time)" in text
        _, by_ingest, _ = cli("status", "--index", alias, *window, "--json", env=env)
        ingest = json.loads(by_ingest)["features"]["completion"]
        assert (ingest["primary"], ingest["failover"]) == (1, 29)
        target = tmp_path / "export.ndjson"
        code, _, _ = cli(
            "export", "--index", alias, *window_args(T0, 5), *field, "-o", str(target), env=env
        )
        assert code == 0
        code, out, _ = cli("status", "--source", str(target), *window, *field, "--json")
        offline = json.loads(out)["features"]["completion"]
        assert (code, offline["primary"], offline["failover"]) == (0, 0, 30)

    def test_until_now_keeps_the_tail(
        self, es_url: str, es_client: Elasticsearch, es_index: str
    ) -> None:
        """By default a window ending now ends 35 s earlier on a 30 s index, and the note names
        --until now; --until now keeps the whole window and says its tail may be incomplete."""
        alias = f"{es_index}-gprd"
        index_gateway_records(es_client, alias, completions(T0, 10, 30, "failover"))
        env = {"ES_URL": es_url}
        now = T0 + timedelta(minutes=10)
        args = ["status", "--index", alias, "--since", "10m", "--feature", "completion"]
        code, out, _ = cli(*args, env=env, now=lambda: now)
        assert code == 0
        assert "2026-03-02 14:00:00Z → 2026-03-02 14:09:25Z" in out
        assert (
            "note: the window ends at 2026-03-02T14:09:25Z, not 2026-03-02T14:10:00Z: later "
            f"records may not be searchable yet (refresh_interval 30s of {alias}-000001, plus "
            '5 s for the pipeline); give --until "now" to count them as far as they are'
        ) in out
        code, out, _ = cli(*args, "--until", "now", "--json", env=env, now=lambda: now)
        window = json.loads(out)["window"]
        assert (window["to"], window["requested_to"]) == ("2026-03-02T14:10:00Z", None)
        assert window["searchable_until"] == "2026-03-02T14:09:25Z"
        assert window["notes"] == [
            (
                "records after 2026-03-02T14:09:25Z may not be searchable yet (refresh_interval "
                f"30s of {alias}-000001, plus 5 s for the pipeline): the last 35 s of the "
                "window may be incomplete"
            )
        ]


class TestErrors:
    @pytest.mark.parametrize(
        ("argv", "message"),
        [
            (
                ["status", "--since", "yesterday-ish", "--source", str(FIXTURE)],
                "cannot read the since time",
            ),
            (["status", "--threshold", "2"], "--threshold: must be above 0.5"),
            (["status", "--min-count", "0"], "--min-count: must be at least 1"),
            (["status", "--feature", "chat"], "choose completion, generation or all"),
            (["watch", "--es-url", REFUSED], "watch needs --expect"),
            (["frobnicate"], "invalid choice"),
        ],
    )
    def test_usage_errors_exit_2(self, argv: list[str], message: str, refused_url: str) -> None:
        """Bad options and windows exit 2 with one line naming the problem."""
        code, out, err = cli(*_with_url(argv, refused_url))
        assert code == 2
        assert out == ""
        assert message in err
        assert len(err.strip().splitlines()) == 1

    @pytest.mark.parametrize(
        ("argv", "message"),
        [
            (["status"], "no Elasticsearch to ask"),
            (["status", "--es-url", "ftp://x"], "not an http(s) URL"),
            (
                ["status", "--es-url", REFUSED, "--ca-certs", "/nonexistent/ca.pem"],
                "does not exist",
            ),
            (
                ["status", "--es-url", REFUSED, "--api-key-file", "/nonexistent/key"],
                "cannot read the API key file",
            ),
            (
                ["status", "--source", str(FIXTURE), "--policy", "/nonexistent/policy.toml"],
                "cannot read the policy file",
            ),
            (
                ["status", "--source", str(FIXTURE), "--definitions", "/nonexistent/defs"],
                "/nonexistent/defs",
            ),
            (["status", "--source", "/nonexistent/records.ndjson"], "does not exist"),
            (
                ["status", "--es-url", REFUSED, "--retries", "0"],
                "cannot reach Elasticsearch at " + REFUSED,
            ),
        ],
    )
    def test_configuration_and_connection_errors_exit_4(
        self, argv: list[str], message: str, refused_url: str
    ) -> None:
        """Unusable configuration or an unreachable server exits 4 with one clear line."""
        code, out, err = cli(*_with_url(argv, refused_url))
        assert code == 4
        assert out == ""
        assert message.replace(REFUSED, refused_url) in err
        assert "Traceback" not in err
        assert len(err.strip().splitlines()) == 1

    def test_debug_shows_traceback(self, refused_url: str) -> None:
        """--debug adds the traceback for the same error."""
        code, _, err = cli("--debug", "status", "--es-url", refused_url, "--retries", "0")
        assert code == 4
        assert "Traceback" in err

    def test_help_documents_exit_codes(self) -> None:
        """--help lists the exit codes."""
        result = subprocess.run(
            [sys.executable, "-m", "failover_verify", "status", "--help"],
            capture_output=True,
            text=True,
            check=True,
        )
        for line in (
            "0  every requested feature",
            "1  a definite verdict contradicts",
            "3  cannot tell",
            "4  cannot connect",
        ):
            assert line in result.stdout

    def test_version(self) -> None:
        """--version prints the installed version and exits 0."""
        code, out, err = cli("--version")
        assert (code, err) == (0, "")
        assert out.strip() == f"failover-verify {fv.__version__}"
        assert fv.__version__ == importlib.metadata.version("failover-verify")

    @pytest.mark.parametrize(
        "argv",
        [
            ["status", "--debug"],
            ["watch", "--expect", "failover", "--timeout", "1s", "--interval", "1s", "--debug"],
            ["export", "--debug"],
            ["--debug", "status"],
        ],
    )
    def test_debug_on_every_command(self, argv: list[str], refused_url: str) -> None:
        """--debug is accepted after every command (and before it), adding the traceback."""
        code, _, err = cli(*argv, "--es-url", refused_url, "--retries", "0")
        assert code == 4
        assert "Traceback" in err
        assert "unrecognized arguments" not in err

    def test_debug_on_link(self) -> None:
        """link takes --debug too."""
        code, out, _ = cli(
            "link", "--debug", "--since", "2026-01-21T10:00Z", "--until", "2026-01-21T11:00Z"
        )
        assert code == 0
        assert out.startswith("completion.served: https://log.gprd.gitlab.net/app/discover#/")

    def test_help_shows_metavars_and_required_expect(self) -> None:
        """Help names what each option takes, and shows --expect as required for watch."""
        code, out, _ = cli("watch", "--help")
        assert code == 0
        usage = " ".join(out.split("options:")[0].split())
        assert "--expect {primary,failover}" in usage
        assert "[--expect" not in usage
        for shown in ("--window DURATION", "--threshold RATIO", "--es-url URL", "--min-count N"):
            assert shown in out

    def test_library_wording_becomes_flags(self, es_url: str, tmp_path: Path) -> None:
        """A hint the library words as index='...' reaches the terminal as --index '...'."""
        code, out, _ = cli("status", "--index", "pubsub-mlops-inf-gprod-*", env={"ES_URL": es_url})
        assert code == 3
        assert "try --index 'pubsub-mlops-inf-gprd-*'" in out
        assert "index=" not in out
        empty = tmp_path / "empty.ndjson"
        empty.write_text("")
        code, _, err = cli("status", "--source", str(empty))
        assert code == 2
        assert "give --since" in err

    def test_console_script_exit_code(self) -> None:
        """The installed command returns the documented exit code to the shell."""
        result = subprocess.run(
            ["failover-verify", "status", "--source", str(FIXTURE), "--expect", "primary"],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
        )
        assert result.returncode == 1


class TestWatch:
    def test_sees_a_switch_while_polling(
        self, es_url: str, es_client: Elasticsearch, es_index: str
    ) -> None:
        """watch keeps polling through primary traffic, sees the flip, and says when it happened."""
        index = f"{es_index}-live"
        clock = {"now": T0}
        flip = T0 + timedelta(minutes=4)

        def traffic(until: datetime) -> None:
            # Records since the last call: primary before the flip, failover after it.
            start = clock.get("written", T0 - timedelta(minutes=5))
            documents: list[dict[str, Any]] = []
            moment = start
            while moment < until:
                role: Role = "failover" if moment >= flip else "primary"
                documents += completions(moment, 0.5, 10, role, seed=int(moment.timestamp()))
                documents += generations(moment, 0.5, 6, role, seed=int(moment.timestamp()) + 1)
                moment += timedelta(seconds=30)
            index_gateway_records(es_client, index, documents)
            clock["written"] = until

        def sleep(seconds: float) -> None:
            clock["now"] += timedelta(seconds=seconds)
            traffic(clock["now"])

        traffic(T0)
        code, out, err = cli(
            "watch",
            "--index",
            f"{es_index}*",
            "--expect",
            "failover",
            "--window",
            "2m",
            "--interval",
            "30s",
            "--timeout",
            "15m",
            env={"ES_URL": es_url},
            now=lambda: clock["now"],
            sleep=sleep,
        )
        assert code == 0, out + err
        polls = [line for line in out.splitlines() if line[:2].isdigit()]
        assert len(polls) >= 10
        assert "completion primary" in polls[0]
        assert "completion failover" in polls[-1]
        # Ingest lags the event by seconds, so the first completion bucket may still hold
        # a few primaries; generation records in these fixtures flip exactly on the minute.
        assert "generation: first 30s bucket at or above 95% failover: 2026-03-02 14:04:00Z" in out
        assert "generation: primary → failover at 2026-03-02 14:04:00Z" in out
        assert any(
            f"completion: primary → failover at 2026-03-02 14:04:{second}Z" in out
            for second in ("00", "30")
        )
        assert "OK: completion failover, generation failover (expected failover)" in out

    def test_switch_within_one_refresh_interval(
        self, es_url: str, es_client: Elasticsearch, es_index: str
    ) -> None:
        """On a 30 s-refresh index with records arriving continuously, watch judges only
        searchable records (its window slides 35 s behind each poll) and dates the switch
        within one refresh interval of the true flip."""
        alias = f"{es_index}-gprd"
        flip = T0 + timedelta(minutes=4, seconds=10)
        clock = {"now": T0, "written": T0 - timedelta(minutes=4)}
        rng = random.Random(31)

        def arrive(until: datetime, *, refresh: bool) -> None:
            # A completion and a generation every 2 s, ingested at once (logged 1 s before).
            documents: list[dict[str, Any]] = []
            moment = clock["written"]
            while moment < until:
                role: Role = "failover" if moment >= flip else "primary"
                provider, model = COMPLETION_MODELS[role]
                documents += [
                    timed(document, ingest=moment, logged=moment - timedelta(seconds=1))
                    for document in (
                        gl.completion_doc(moment, provider, model, rng),
                        gl.registry_doc(moment, GENERATIONS_ID, GENERATION[role], rng),
                    )
                ]
                moment += timedelta(seconds=2)
            clock["written"] = moment
            index_gateway_records(es_client, alias, documents, refresh=refresh)

        def sleep(seconds: float) -> None:
            # The index refreshes every 30 s of the injected clock, at :15 and :45; records
            # that arrived since are written but not searchable.
            later = clock["now"] + timedelta(seconds=seconds)
            boundary = _next_refresh(clock["now"])
            while boundary <= later:
                arrive(boundary, refresh=True)
                boundary += timedelta(seconds=30)
            arrive(later, refresh=False)
            clock["now"] = later

        arrive(T0 - timedelta(seconds=15), refresh=True)
        arrive(T0, refresh=False)
        code, out, err = cli(
            "watch", "--index", alias, "--expect", "failover", "--window", "3m",
            "--interval", "30s", "--timeout", "15m", "--json",
            env={"ES_URL": es_url}, now=lambda: clock["now"], sleep=sleep,
        )  # fmt: skip
        assert code == 0, out + err
        data = json.loads(out)
        switched = {
            feature: datetime.fromisoformat(moment)
            for feature, moment in data["watch"]["switched_at"].items()
        }
        # The flip bucket (14:04:00-14:04:30) is mixed; the next is wholly failover.
        assert switched == dict.fromkeys(("completion", "generation"), flip + timedelta(seconds=20))
        assert all(
            timedelta(0) <= moment - flip <= timedelta(seconds=30) for moment in switched.values()
        )
        # Each poll reads the 3 minutes before the last 35 s: the first with 95% failover is
        # polled at 14:08:00 and reads 14:04:25 to 14:07:25, 90 records a feature.
        assert data["watch"]["ended"] == "2026-03-02T14:08:00+00:00"
        assert {key: data["window"][key] for key in ("from", "to", "requested_to")} == {
            "from": "2026-03-02T14:04:25Z",
            "to": "2026-03-02T14:07:25Z",
            "requested_to": "2026-03-02T14:08:00Z",
        }
        assert data["window"]["notes"] == [
            (
                "the window ends at 2026-03-02T14:07:25Z, 35 s before now: later records may "
                f"not be searchable yet (refresh_interval 30s of {alias}-000001, plus 5 s for "
                "the pipeline)"
            )
        ]
        assert data["features"]["completion"]["total"] == 90
        assert data["features"]["completion"]["failover_share"] == 1.0
        polls = [line for line in err.splitlines() if line[:2].isdigit()]
        assert len(polls) == 17
        assert "completion primary failover 0% of 90" in polls[0]

    def test_switch_dated_from_the_first_polls_window(
        self, es_url: str, es_client: Elasticsearch, es_index: str
    ) -> None:
        """The switch is dated over everything polled: the first poll's window begins the
        ingest delay (35 s) before watch started minus the window, and a flip in those
        35 s is dated at the flip, not at the later edge of the watch."""
        alias = f"{es_index}-gprd"
        flip = T0 - timedelta(minutes=3, seconds=30)
        rng = random.Random(37)
        documents: list[dict[str, Any]] = []
        moment = T0 - timedelta(minutes=6)
        while moment < T0:
            role: Role = "failover" if moment >= flip else "primary"
            provider, model = COMPLETION_MODELS[role]
            document = gl.completion_doc(moment, provider, model, rng)
            documents.append(timed(document, ingest=moment, logged=moment))
            moment += timedelta(seconds=2)
        index_gateway_records(es_client, alias, documents)
        code, out, err = cli(
            "watch", "--index", alias, "--feature", "completion", "--expect", "failover",
            "--window", "3m", "--interval", "30s", "--timeout", "1m", "--json",
            env={"ES_URL": es_url}, now=lambda: T0, sleep=lambda _seconds: None,
        )  # fmt: skip
        assert code == 0, out + err
        data = json.loads(out)
        # One poll, 13:56:25 to 13:59:25: 2 of its 90 completions (13:56:26, :28) before the
        # flip, so 97.8% failover.
        assert data["watch"]["polls"] == 1
        assert (data["window"]["from"], data["window"]["to"]) == (
            "2026-03-02T13:56:25Z",
            "2026-03-02T13:59:25Z",
        )
        assert (
            data["features"]["completion"]["total"],
            data["features"]["completion"]["failover"],
        ) == (90, 88)
        assert data["watch"]["switched_at"] == {"completion": flip.isoformat()}

    def test_times_out(self, es_url: str, failover_data: str) -> None:
        """When the expectation never holds, watch stops at the timeout: 1 if contradicted."""
        clock = {"now": T0 + timedelta(minutes=20)}

        def sleep(seconds: float) -> None:
            clock["now"] += timedelta(seconds=seconds)

        code, out, _ = cli(
            "watch",
            "--index",
            failover_data,
            "--expect",
            "primary",
            "--window",
            "5m",
            "--interval",
            "1m",
            "--timeout",
            "3m",
            "--min-count",
            "5",
            env={"ES_URL": es_url},
            now=lambda: clock["now"],
            sleep=sleep,
        )
        assert code == 1
        assert clock["now"] <= T0 + timedelta(minutes=23)
        assert "NOT AS EXPECTED" in out


class TestExport:
    def test_more_than_one_page(
        self, tmp_path: Path, es_url: str, es_client: Elasticsearch, es_index: str
    ) -> None:
        """export streams every record across pages, in order, without code; status reads it."""
        index_gateway_records(
            es_client,
            f"{es_index}-a",
            completions(T0, 60, 2300, "failover") + generations(T0, 60, 900, "failover"),
        )
        target = tmp_path / "export.ndjson"
        code, out, err = cli(
            "export",
            "--index",
            f"{es_index}*",
            # Ingest lags events by up to 4 s, so leave room at the end of the hour.
            *window_args(T0, 61),
            "-o",
            str(target),
            env={"ES_URL": es_url},
        )
        assert (code, out) == (0, "")
        assert "exported 3,200 records" in err
        lines = [json.loads(line) for line in target.read_text().splitlines()]
        assert len(lines) == 3200
        assert len({line["_id"] for line in lines}) == 3200
        times = [line["_source"]["@timestamp"] for line in lines]
        assert times == sorted(times)
        assert "prefix" not in target.read_text()
        assert "api_key" not in target.read_text()
        code, out, _ = cli("status", "--source", str(target), "--json")
        totals = {name: f["total"] for name, f in json.loads(out)["features"].items()}
        assert totals == {"completion": 2300, "generation": 900}

    def test_into_a_pipe(self, tmp_path: Path, es_url: str, failover_data: str) -> None:
        """A target that is not a regular file (a named pipe here; /dev/null alike) is written
        in place: renaming a finished file over it would replace the pipe or device."""
        args = ("export", "--index", failover_data, *window_args(T0, 30))
        regular = tmp_path / "records.ndjson"
        code, _, err = cli(*args, "-o", str(regular), env={"ES_URL": es_url})
        assert code == 0, err
        pipe = tmp_path / "records"
        os.mkfifo(pipe)
        received: list[bytes] = []
        # A daemon: were the pipe replaced, its reader would wait for a writer for ever.
        reader = threading.Thread(target=lambda: received.append(pipe.read_bytes()), daemon=True)
        reader.start()
        code, _, err = cli(*args, "-o", str(pipe), env={"ES_URL": es_url})
        reader.join(timeout=60)
        assert code == 0, err
        assert not reader.is_alive(), "nothing was written into the pipe"
        assert stat.S_ISFIFO(pipe.stat().st_mode)
        assert sorted(path.name for path in tmp_path.iterdir()) == ["records", "records.ndjson"]
        assert received == [regular.read_bytes()]
        assert len(regular.read_bytes().splitlines()) > 0

    def test_include_code(self, es_url: str, failover_data: str) -> None:
        """--include-code keeps users' code; api_key is never exported."""
        code, out, _ = cli(
            "export",
            "--index",
            failover_data,
            *window_args(T0, 30),
            "--include-code",
            "--feature",
            "completion",
            env={"ES_URL": es_url},
        )
        assert code == 0
        first = json.loads(out.splitlines()[0])
        assert "prefix" in first["_source"]["json"]["jsonPayload"]
        assert "api_key" not in first["_source"]["json"]["jsonPayload"]


def _link_state(url: str) -> dict[str, Any]:
    fragment = urlsplit(url).fragment[2:]
    return {
        key: prison.loads(unquote(value))
        for key, value in (part.split("=", 1) for part in fragment.split("&"))
    }


class TestLink:
    def test_decodes_to_the_same_query(self) -> None:
        """link prints a Discover URL whose state decodes to the check's KQL and window."""
        code, out, _ = cli(
            "link",
            "--feature",
            "generation",
            *window_args(T0, 30),
            "--kibana-url",
            "https://kibana.example",
            "--data-view",
            "abc-123",
        )
        assert code == 0
        lines = dict(line.split(": ", 1) for line in out.splitlines())
        assert list(lines) == ["generation.served", "generation.registry"]
        url = lines["generation.registry"]
        fragment = urlsplit(url).fragment[2:]
        state = {
            key: prison.loads(unquote(value))
            for key, value in (p.split("=", 1) for p in fragment.split("&"))
        }
        assert url.startswith("https://kibana.example/app/discover#/")
        assert state["_a"]["index"] == "abc-123"
        assert state["_a"]["query"]["query"] == (
            'json.jsonPayload.message: "Returning prompt from the registry" and '
            "json.jsonPayload.prompt_id: "
            '("code_suggestions/generations" or code_suggestions/generations/*)'
        )
        assert state["_g"]["time"] == {"from": "2026-03-02T14:00:00Z", "to": "2026-03-02T14:30:00Z"}

    def test_default_index_opens_gitlab_data_view(self) -> None:
        """With the default index on GitLab's Kibana, the links open the gprd data view by id
        and say so on stderr."""
        code, out, err = cli("link", "--feature", "completion", *window_args(T0, 30))
        assert code == 0
        lines = dict(line.split(": ", 1) for line in out.splitlines())
        state = _link_state(lines["completion.input"])
        assert state["_a"]["index"] == "8cd9c4c0-f0a7-11ed-a017-0d32180b1390"
        assert state["_a"]["query"] == {
            "language": "kuery",
            "query": 'json.jsonPayload.message: "code completion input:"',
        }
        assert err == (
            "note: the Kibana links open GitLab's data view for pubsub-mlops-inf-gprd-* "
            "(8cd9c4c0-f0a7-11ed-a017-0d32180b1390), which covers the current indices; "
            "pubsub-mlops-inf-gprod-* is an older spelling that no current index has\n"
        )

    def test_other_index_opens_esql(self) -> None:
        """For an index with no known data view, the link opens Discover in ES|QL mode with
        the same selection, the window and the time field in the query."""
        code, out, err = cli(
            "link", "--feature", "generation", "--index", "logs-*",
            "--time-field", "json.timestamp", *window_args(T0, 30),
        )  # fmt: skip
        assert code == 0
        lines = dict(line.split(": ", 1) for line in out.splitlines())
        state = _link_state(lines["generation.registry"])
        assert "index" not in state["_a"]
        assert state["_a"]["dataSource"] == {"type": "esql"}
        assert state["_a"]["query"] == {
            "esql": "FROM logs-* | WHERE "
            'json.timestamp >= TO_DATETIME("2026-03-02T14:00:00.000Z") AND '
            'json.timestamp < TO_DATETIME("2026-03-02T14:30:00.000Z") AND '
            'json.jsonPayload.message == "Returning prompt from the registry" AND '
            '(json.jsonPayload.prompt_id == "code_suggestions/generations" OR '
            'STARTS_WITH(json.jsonPayload.prompt_id, "code_suggestions/generations/")) '
            "| SORT json.timestamp DESC"
        }
        assert "--data-view" in err
        assert "ES|QL mode" in err

    def test_every_signal_labelled(self) -> None:
        """Each signal of each feature gets its own labelled URL, strongest first."""
        _, out, _ = cli("link", "--since", "1h")
        assert [line.split(":", 1)[0] for line in out.splitlines()] == [
            "completion.served",
            "completion.registry",
            "completion.input",
            "generation.served",
            "generation.registry",
        ]


class TestDefinitions:
    def _definitions(self, root: Path) -> Path:
        base = (
            root
            / "ai_gateway"
            / "prompts"
            / "definitions"
            / "code_suggestions"
            / "generations"
            / "base"
        )
        base.mkdir(parents=True)
        (base / "1.0.0.yml").write_text(
            "model:\n  name: claude-3-5-sonnet-20240620\n"
            "  params:\n    model_class_provider: anthropic\n"
        )
        return base

    def _status(self, definitions: Path) -> tuple[int, str, dict[str, Any]]:
        """`status --json` on the 2025-02 fixture (no record evidence) with these definitions."""
        fixture = ROOT / "fixtures" / "incident-2025-02.ndjson"
        code, out, _ = cli(
            "status", "--source", str(fixture), "--definitions", str(definitions), "--json"
        )
        return code, out, json.loads(out)["features"]["generation"]

    def test_checkout_used_for_resolution(self, tmp_path: Path) -> None:
        """--definitions resolves versions from the given folder and says so."""
        base = self._definitions(tmp_path / "checkout")
        (base / "2.0.0.yml").write_text(
            "model:\n  name: claude-x@1\n  params:\n    custom_llm_provider: vertex_ai\n"
        )
        code, _, generation = self._status(tmp_path / "checkout")
        assert code == 0
        assert set(generation["by_model"]) == {"claude-3-5-sonnet-20240620", "claude-x@1"}
        assert generation["by_provider"]["vertex_ai"] == generation["failover"]
        assert {r["source"] for r in generation["resolutions"]} == {"definitions"}

    def test_symlink_out_of_root_is_refused(self, tmp_path: Path) -> None:
        """A definition linking outside the folder is not read: its version stays unresolved,
        and the roles come from the requested versions alone."""
        base = self._definitions(tmp_path / "checkout")
        outside = tmp_path / "outside.yml"
        outside.write_text(
            "model:\n  name: stolen\n  params:\n    custom_llm_provider: vertex_ai\n"
        )
        (base / "2.0.0.yml").symlink_to(outside)
        code, out, generation = self._status(tmp_path / "checkout")
        assert code == 0
        assert generation["verdict"] == "mixed"
        assert generation["by_provider"]["(unresolved)"] == generation["failover"]
        assert "stolen" not in out
        statuses = {r["requested_version"]: r["status"] for r in generation["resolutions"]}
        assert statuses["2.0.0"] == "unreadable"
