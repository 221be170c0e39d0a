"""The ``failover-verify`` command: status, watch, export and link.

A thin layer over the library: it reads options and environment variables, calls the
library, prints, and maps the outcome to a documented exit code.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import re
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import IO, Any, Final, NoReturn

from elasticsearch import Elasticsearch

from failover_verify._client import ENVIRONMENT, ConnectionSettings, connect
from failover_verify._exceptions import (
    ConfigurationError,
    ConnectionFailed,
    ElasticsearchError,
    FailoverVerifyError,
    SourceError,
    UsageError,
)
from failover_verify._expectation import Expect as Expectations
from failover_verify._expectation import contradicted, describe_expect
from failover_verify._export import export_hits
from failover_verify._flags import FlagReading
from failover_verify._gateway import GatewayFacts
from failover_verify._jobs_cli import (
    JobOptions,
    add_job_options,
    finish_jobs,
    read_flag_states,
    render_flags,
    report_json,
)
from failover_verify._kibana import DEFAULT_KIBANA_URL, link_target
from failover_verify._offline import verify_hits
from failover_verify._policy import Policy
from failover_verify._queries import DEFAULT_INDEX
from failover_verify._registry import PromptRegistry
from failover_verify._render import Style, render_progress, render_report, render_switches
from failover_verify._report import Report
from failover_verify._source import read_ndjson
from failover_verify._summary import DEFAULT_MIN_COUNT, DEFAULT_THRESHOLD, Judge
from failover_verify._types import FEATURES, Feature, Role
from failover_verify._verify import DEFAULT_TIME_FIELD, Verifier, chosen_signals
from failover_verify._window import parse_duration, parse_window

__all__ = ["build_parser", "main"]

EXIT_OK: Final = 0
EXIT_MISMATCH: Final = 1
EXIT_USAGE: Final = 2
EXIT_CANNOT_TELL: Final = 3
EXIT_UNAVAILABLE: Final = 4

EXIT_CODES_HELP: Final = """\
exit codes:
  0  every requested feature has a definite verdict (primary, failover or mixed)
     and, with --expect, it is the expected one
  1  a definite verdict contradicts --expect
  2  usage error (bad option, time window or duration)
  3  cannot tell: no data, too few records, unclassified records, or partial results
  4  cannot connect, authenticate, or read the configuration (policy, definitions,
     CA certificates, records file)
"""

ENVIRONMENT_HELP: Final = """\
environment:
  ES_URL, ES_CLOUD_ID     where Elasticsearch is (or --es-url / --cloud-id)
  ES_API_KEY              API key (or --api-key-file FILE)
  ES_USERNAME, ES_PASSWORD  basic auth
  ES_CA_CERTS             CA bundle for TLS (or --ca-certs FILE)
  GITLAB_URL, GITLAB_TOKEN  GitLab and a read_api token, for --expect flags
  NO_COLOR                plain output even on a terminal
Secrets are read only from the environment or files, never from options, so they do not
show in process lists or shell history.
"""

# Library messages name parameters (``request_timeout=``); the command line names its flags.
_FLAGS: Final = {
    "since": "--since",
    "until": "--until",
    "index": "--index",
    "time_field": "--time-field",
    "features": "--feature",
    "threshold": "--threshold",
    "min_count": "--min-count",
    "request_timeout": "--request-timeout",
    "ca_certs": "--ca-certs",
    "retries": "--retries",
    "data_view": "--data-view",
}
_PARAMETER = re.compile(r"\b(" + "|".join(_FLAGS) + r")=(?=[\s'\"(),;]|$)")


def _as_flags(text: str) -> str:
    """Library wording to command-line wording: ``index='x'`` becomes ``--index 'x'``."""
    return _PARAMETER.sub(lambda match: _FLAGS[match[1]] + " ", text).replace(" )", ")")


class _Exit(Exception):
    """argparse finished early (``--help``, ``--version``) with this status."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, out: IO[str] | None = None, **kwargs: Any) -> None:
        # No abbreviations: `--api-key x` must not silently become `--api-key-file x`.
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)
        self._out = out

    def _print_message(self, message: str, file: Any = None) -> None:
        # --help and --version write where main() was told to, not to the process's stdout.
        super()._print_message(message, self._out or file)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            raise UsageError(message.strip())
        raise _Exit(status)

    def error(self, message: str) -> NoReturn:
        if "required: --expect" in message:
            message = "watch needs --expect primary or --expect failover: the state to wait for"
        elif "--expect: invalid choice: 'flags'" in message:
            message = (
                "watch waits for a state you name: --expect primary or --expect failover; "
                "check against the incident flags with status --expect flags"
            )
        raise UsageError(f"{self.prog}: {message} (see --help)")


@dataclass
class _Console:
    """Writes to stdout/stderr with every known secret scrubbed."""

    out: IO[str]
    err: IO[str]
    secrets: list[str] = field(default_factory=list)

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def print(self, text: str = "") -> None:
        self.out.write(self.scrub(_as_flags(text)) + "\n")
        self.out.flush()

    def error(self, text: str) -> None:
        self.err.write(self.scrub(_as_flags(text)) + "\n")
        self.err.flush()


def _feature_choice(value: str) -> tuple[Feature, ...]:
    if value == "all":
        return FEATURES
    if value in FEATURES:
        return (value,)
    raise argparse.ArgumentTypeError(f"choose completion, generation or all, not {value!r}")


def _ratio(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number such as 0.95") from None
    if not 0.5 < number <= 1:
        raise argparse.ArgumentTypeError(f"must be above 0.5 and at most 1, not {value}")
    return number


def _whole_number(minimum: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
        if number < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {value}")
        return number

    return parse


def _seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, not {value}")
    return number


def _version() -> str:
    try:
        return version("failover-verify")
    except PackageNotFoundError:  # pragma: no cover - a source tree that was never installed
        return "unknown"


def _option_groups() -> dict[str, _Parser]:
    """The option groups the commands share, as argparse parent parsers."""
    # Options every command takes, after the command as well as before it. SUPPRESS keeps a
    # subcommand's default from overwriting a --debug given before the command.
    general = _Parser(add_help=False)
    group = general.add_argument_group("general")
    group.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks on errors"
    )

    window = _Parser(add_help=False)
    group = window.add_argument_group("time window")
    group.add_argument(
        "--since",
        metavar="TIME",
        help="start: 15m, 2h, now-30m, or an absolute time (default 15m)",
    )
    group.add_argument(
        "--until",
        metavar="TIME",
        help="end, in the same forms (default now; status ends where records are surely "
        "searchable unless given 'now' exactly)",
    )

    query = _Parser(add_help=False)
    group = query.add_argument_group("what to read")
    group.add_argument(
        "--feature",
        type=_feature_choice,
        default=FEATURES,
        metavar="{completion,generation,all}",
        help="which feature to check (default all)",
    )
    group.add_argument(
        "--index",
        default=DEFAULT_INDEX,
        metavar="PATTERN",
        help=f"index pattern (default {DEFAULT_INDEX})",
    )
    group.add_argument(
        "--time-field",
        default=DEFAULT_TIME_FIELD,
        metavar="FIELD",
        help=f"time field: {DEFAULT_TIME_FIELD} (ingestion, the default), json.timestamp (the "
        "log entry's own time, about 1 s earlier) or json.jsonPayload.timestamp",
    )
    group.add_argument("--policy", type=Path, metavar="FILE", help="classification policy (TOML)")
    group.add_argument(
        "--definitions",
        type=Path,
        metavar="DIR",
        help="an ai-assist checkout or its prompt definitions folder (default: bundled snapshot)",
    )
    group.add_argument(
        "--gateway",
        type=Path,
        metavar="DIR",
        help="an ai-assist checkout whose model-selection files, registry mappings and "
        "definitions decide what registry records resolve to (default: the bundled facts of "
        "every era)",
    )

    judge = _Parser(add_help=False)
    group = judge.add_argument_group("verdict")
    group.add_argument(
        "--threshold",
        type=_ratio,
        default=DEFAULT_THRESHOLD,
        metavar="RATIO",
        help=f"share needed for a primary or failover verdict (default {DEFAULT_THRESHOLD})",
    )
    group.add_argument(
        "--min-count",
        type=_whole_number(1),
        default=DEFAULT_MIN_COUNT,
        metavar="N",
        help=f"fewer records than this is inconclusive (default {DEFAULT_MIN_COUNT})",
    )

    kibana = _Parser(add_help=False)
    group = kibana.add_argument_group("kibana link")
    group.add_argument(
        "--kibana-url",
        default=DEFAULT_KIBANA_URL,
        metavar="URL",
        help=f"(default {DEFAULT_KIBANA_URL})",
    )
    group.add_argument(
        "--data-view",
        metavar="ID",
        help="Kibana data view id (default: GitLab's data view for the gprd indices on "
        "log.gprd.gitlab.net; links to other indices open Discover in ES|QL mode)",
    )

    connection = _Parser(add_help=False)
    group = connection.add_argument_group("connection (secrets come from the environment)")
    group.add_argument("--es-url", metavar="URL", help="Elasticsearch URL (env ES_URL)")
    group.add_argument("--cloud-id", metavar="ID", help="Elastic Cloud id (env ES_CLOUD_ID)")
    group.add_argument(
        "--api-key-file",
        type=Path,
        metavar="FILE",
        help="file holding the API key (env ES_API_KEY_FILE)",
    )
    group.add_argument("--ca-certs", type=Path, metavar="FILE", help="CA bundle (env ES_CA_CERTS)")
    group.add_argument("--insecure", action="store_true", help="do not verify TLS certificates")
    group.add_argument(
        "--request-timeout",
        type=_seconds,
        default=30.0,
        metavar="SECONDS",
        help="time allowed per request (default 30)",
    )
    group.add_argument(
        "--retries",
        type=_whole_number(0),
        default=2,
        metavar="N",
        help="retries of a failed request, with backoff (default 2)",
    )

    return {
        "general": general,
        "window": window,
        "query": query,
        "judge": judge,
        "kibana": kibana,
        "connection": connection,
    }


def build_parser(out: IO[str] | None = None) -> _Parser:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        out=out,
        prog="failover-verify",
        description=(
            "Check from Elasticsearch logs whether GitLab Code Suggestions traffic runs on the "
            "primary or the failover LLM provider."
        ),
        epilog=EXIT_CODES_HELP + "\n" + ENVIRONMENT_HELP,
        formatter_class=formatter,
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    groups = _option_groups()
    general, window, query, judge = (
        groups[name] for name in ("general", "window", "query", "judge")
    )
    kibana, connection = groups["kibana"], groups["connection"]
    jobs = _Parser(add_help=False)
    add_job_options(jobs)

    status = commands.add_parser(
        "status",
        parents=[general, window, query, judge, kibana, connection, jobs],
        help="verify a window and print the verdicts",
        description="Verify a time window and print the verdict for each feature.",
        epilog=EXIT_CODES_HELP,
        formatter_class=formatter,
    )
    status.add_argument(
        "--expect",
        choices=["primary", "failover", "flags"],
        help="the verdict that means OK (exit 1 when a definite verdict differs); flags: what "
        "the incident flags in GitLab say, per feature (GITLAB_URL, GITLAB_TOKEN)",
    )
    status.add_argument(
        "--source",
        type=Path,
        metavar="FILE.ndjson",
        help="read exported records from a file instead of Elasticsearch "
        "(without --since, the window is the span of the records)",
    )
    status.add_argument("--json", action="store_true", help="print the report as JSON")

    watch = commands.add_parser(
        "watch",
        parents=[general, query, judge, kibana, connection, jobs],
        help="poll until traffic has moved as expected",
        description=(
            "Right after a flag flip: poll a sliding window until every feature shows the "
            "expected verdict or the timeout passes, then say when the switch happened."
        ),
        epilog=EXIT_CODES_HELP,
        formatter_class=formatter,
    )
    watch.add_argument(
        "--expect",
        choices=["primary", "failover"],
        required=True,
        help="the state to wait for",
    )
    watch.add_argument(
        "--window", default="5m", metavar="DURATION", help="sliding window length (default 5m)"
    )
    watch.add_argument(
        "--interval", default="30s", metavar="DURATION", help="time between polls (default 30s)"
    )
    watch.add_argument(
        "--timeout",
        dest="watch_timeout",
        default="15m",
        metavar="DURATION",
        help="give up after (default 15m)",
    )
    watch.add_argument("--json", action="store_true", help="print the final report as JSON")

    export = commands.add_parser(
        "export",
        parents=[general, window, query, connection],
        help="stream matching raw records as NDJSON",
        description="Stream the matching raw records as NDJSON, for evidence and status --source.",
        formatter_class=formatter,
    )
    export.add_argument(
        "--output", "-o", type=Path, metavar="FILE", help="write here (default stdout)"
    )
    export.add_argument(
        "--include-code",
        action="store_true",
        help="keep prompt, prefix and suffix (users' code); left out by default",
    )

    commands.add_parser(
        "link",
        parents=[general, window, query, kibana],
        help="print the Kibana Discover link for the same query",
        description="Print the Kibana Discover URL that shows the records a check counts.",
        formatter_class=formatter,
    )
    for command in commands.choices.values():
        command._out = out
    return parser


def _secret_forms(value: str) -> list[str]:
    # Clients send credentials base64-encoded, and servers sometimes echo headers back.
    encoded = base64.b64encode(value.encode()).decode()
    return [value, encoded]


@dataclass
class _Context:
    args: argparse.Namespace
    env: Mapping[str, str]
    console: _Console
    style: Style
    now: Callable[[], datetime]
    sleep: Callable[[float], None]

    def settings(self) -> ConnectionSettings:
        args, env = self.args, self.env
        if not any(env.get(ENVIRONMENT[name]) for name in ("url", "cloud_id")) and not (
            args.es_url or args.cloud_id
        ):
            raise ConfigurationError(
                "no Elasticsearch to ask: set ES_URL (or --es-url, --cloud-id), "
                "or read exported records with status --source FILE"
            )
        # Known before the settings are validated, so no error can show them.
        for name in ("api_key", "password"):
            secret = env.get(ENVIRONMENT[name])
            if secret:
                self.console.secrets.extend(_secret_forms(secret))
        username, password = env.get(ENVIRONMENT["username"]), env.get(ENVIRONMENT["password"])
        if username and password:
            self.console.secrets.extend(_secret_forms(f"{username}:{password}")[1:])
        settings = ConnectionSettings.from_env(
            env,
            url=args.es_url,
            cloud_id=args.cloud_id,
            api_key_file=args.api_key_file,
            ca_certs=args.ca_certs,
            verify_certs=not args.insecure,
            request_timeout=args.request_timeout,
        )
        if settings.api_key is not None:
            self.console.secrets.extend(_secret_forms(settings.api_key.get_secret_value()))
        return settings

    def record_client(self) -> Elasticsearch:
        """A client for the cluster --record-to writes to: --record-es-url, else the one read."""
        url = getattr(self.args, "record_es_url", None)
        if not url:
            return connect(self.settings())
        args = argparse.Namespace(**{**vars(self.args), "es_url": url, "cloud_id": None})
        return connect(replace(self, args=args).settings())

    def flags(self) -> FlagReading | None:
        """The incident flags from GitLab, with --expect flags; None otherwise."""
        if self.args.expect != "flags":
            return None
        return read_flag_states(
            self.env,
            self.args.feature,
            timeout=self.args.request_timeout,
            secrets=self.console.secrets,
        )

    def finish(self, data: Mapping[str, Any], *, run_time: datetime, code: int) -> int:
        """Record the report and write the metrics, as the scheduled-run options ask."""
        return finish_jobs(
            JobOptions.from_args(self.args),
            data,
            run_time=run_time,
            exit_code=code,
            command=self.args.command,
            record_client=self.record_client,
            say=self.console.print if not self.args.json else self.console.error,
            warn=self.console.error,
            record_failed_code=EXIT_UNAVAILABLE,
        )

    def policy(self) -> Policy:
        return Policy.from_file(self.args.policy) if self.args.policy else Policy.default()

    def registry(self) -> PromptRegistry:
        if self.args.definitions is None:
            return PromptRegistry.bundled()
        return PromptRegistry.from_directory(
            self.args.definitions, fallback=PromptRegistry.bundled()
        )

    def gateway(self) -> GatewayFacts:
        if self.args.gateway is not None:
            return GatewayFacts.from_checkout(self.args.gateway)
        return GatewayFacts.bundled(definitions=self.registry())

    def verifier(self) -> Verifier:
        args = self.args
        return Verifier(
            connect(self.settings()),
            index=args.index,
            time_field=args.time_field,
            policy=self.policy(),
            gateway=self.gateway(),
            threshold=getattr(args, "threshold", DEFAULT_THRESHOLD),
            min_count=getattr(args, "min_count", DEFAULT_MIN_COUNT),
            kibana_url=getattr(args, "kibana_url", DEFAULT_KIBANA_URL),
            data_view=getattr(args, "data_view", None),
            retries=args.retries,
        )


def _outcome(report: Report, expect: Expectations | None) -> int:
    features = list(report.features.values())
    if expect is not None and contradicted(report, expect):
        return EXIT_MISMATCH
    if not all(f.definite for f in features):
        return EXIT_CANNOT_TELL
    return EXIT_OK


def _result_line(report: Report, expect: Expectations | None, code: int, style: Style) -> str:
    verdicts = ", ".join(f"{f.feature} {f.verdict}" for f in report.features.values())
    wanted = f" (expected {describe_expect(expect)})" if expect else ""
    if code == EXIT_OK:
        return style(f"OK: {verdicts}{wanted}", "green", "bold")
    if code == EXIT_MISMATCH:
        return style(f"NOT AS EXPECTED: {verdicts}{wanted}", "red", "bold")
    return style(f"CANNOT TELL: {verdicts}{wanted}", "yellow", "bold")


def _status(ctx: _Context) -> int:
    args = ctx.args
    run_time = ctx.now()
    JobOptions.from_args(args)
    flags = ctx.flags()
    expect: Expectations | None = flags.expectations() if flags else args.expect
    if args.source is not None:
        if not args.source.is_file():
            raise SourceError(f"the records file {args.source} does not exist or is not a file")
        report = verify_hits(
            read_ndjson(args.source),
            since=args.since,
            until=args.until,
            source=f"file {args.source}",
            index=args.index,
            time_field=args.time_field,
            features=args.feature,
            policy=ctx.policy(),
            gateway=ctx.gateway(),
            threshold=args.threshold,
            min_count=args.min_count,
            kibana_url=args.kibana_url,
            data_view=args.data_view,
            now=ctx.now(),
        )
    else:
        report = ctx.verifier().verify(
            args.since or "15m", args.until, features=args.feature, now=ctx.now()
        )
    code = _outcome(report, expect)
    data = report_json(report, expect, flags)
    if args.json:
        ctx.console.print(json.dumps(data, indent=2))
    else:
        ctx.console.print(render_report(report, ctx.style, expect=None if flags else args.expect))
        if flags is not None:
            ctx.console.print()
            for line in render_flags(flags, ctx.style):
                ctx.console.print(line)
        ctx.console.print()
        ctx.console.print(_result_line(report, expect, code, ctx.style))
    return ctx.finish(data, run_time=run_time, code=code)


def _watch(ctx: _Context) -> int:
    args = ctx.args
    expect: Role = args.expect
    JobOptions.from_args(args)
    window_length = parse_duration(args.window, what="window")
    interval = parse_duration(args.interval, what="interval")
    timeout = parse_duration(args.watch_timeout, what="timeout")
    verifier = ctx.verifier()
    started = ctx.now()
    deadline = started + timeout
    progress = ctx.console.error if args.json else ctx.console.print
    progress(
        f"watching {', '.join(args.feature)} for {expect} in a {args.window} window every "
        f"{args.interval}, for up to {args.watch_timeout}"
    )
    report: Report | None = None
    failure: FailoverVerifyError | None = None
    # Where the first poll's window began: the switch is dated over everything polled.
    watched_from: datetime | None = None
    polls = 0
    while True:
        now = ctx.now()
        polls += 1
        try:
            # The window slides behind now by the ingest delay, so a tail still waiting for
            # its index's refresh never reads as traffic that stopped.
            window = verifier.latest_window(window_length, now=now)
            watched_from = watched_from or window.start
            report = verifier.verify(
                window,
                features=args.feature,
                now=now,
                refresh_plan=failure is not None,
            )
            failure = None
            progress(render_progress(report, ctx.style, now))
        except ConnectionFailed as exc:
            # A short outage should not end the watch; the verdict waits for a good poll.
            failure = exc
            report = None
            progress(ctx.style(f"{now.astimezone(UTC):%H:%M:%SZ}  poll failed: {exc}", "yellow"))
        if report is not None and report.meets(expect):
            break
        if ctx.now() + interval > deadline:
            break
        ctx.sleep(interval.total_seconds())
    if report is None:
        # The last poll failed: no verdict, only the reason.
        raise failure or ConnectionFailed("no poll of Elasticsearch succeeded")
    switched = _switch_times(
        ctx, verifier, watched_from or started - window_length, expect, interval
    )
    code = _outcome(report, expect)
    ended = ctx.now()
    data = report.to_json_dict(expect=expect)
    data["watch"] = {
        "polls": polls,
        "started": started.isoformat(),
        "ended": ended.isoformat(),
        "switched_at": {k: (v.isoformat() if v else None) for k, v in switched.times.items()},
        "switch_problems": switched.problems,
    }
    if args.json:
        ctx.console.print(json.dumps(data, indent=2))
        return ctx.finish(data, run_time=ended, code=code)
    ctx.console.print()
    ctx.console.print(render_report(report, ctx.style, expect=expect))
    ctx.console.print()
    for line in switched.lines:
        ctx.console.print(line)
    ctx.console.print(_result_line(report, expect, code, ctx.style))
    return ctx.finish(data, run_time=ended, code=code)


@dataclass(frozen=True)
class _SwitchTimes:
    """When each watched feature first reached the expected role, or why that is unknown."""

    times: dict[str, datetime | None]
    lines: list[str]
    problems: list[str]


def _switch_times(
    ctx: _Context, verifier: Verifier, since: datetime, expect: Role, interval: timedelta
) -> _SwitchTimes:
    """When each feature first reached ``expect``, from a fine timeline of the watched span."""
    bucket = max(timedelta(seconds=10), min(interval, timedelta(minutes=1)))
    now = ctx.now()
    unknown: dict[str, datetime | None] = dict.fromkeys(ctx.args.feature)
    try:
        # Dated from searchable records only, as the polls were judged.
        timeline = verifier.timeline(
            since,
            now,
            interval=bucket,
            features=ctx.args.feature,
            min_bucket_count=1,
            now=now,
        )
    except ElasticsearchError as exc:
        problem = f"could not read when the switch happened: {exc}"
        return _SwitchTimes(unknown, [ctx.style(problem, "yellow")], [problem])
    if not timeline.complete:
        # A partial timeline could date the switch late or early; no date beats a wrong one.
        problems = [f"could not tell when the switch happened: {p}" for p in timeline.problems]
        return _SwitchTimes(unknown, [ctx.style(line, "yellow") for line in problems], problems)
    times = {feature: timeline.first_at(feature, expect) for feature in ctx.args.feature}
    lines = [
        f"{feature}: first {bucket.total_seconds():.0f}s bucket at or above "
        f"{timeline.threshold:.0%} {expect}: "
        + (moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ") if moment else "not reached")
        for feature, moment in times.items()
    ]
    lines += render_switches(timeline)
    return _SwitchTimes(dict(times), lines, [])


def _export(ctx: _Context) -> int:
    args = ctx.args
    window = parse_window(args.since or "15m", args.until, now=ctx.now())
    verifier = ctx.verifier()
    show_progress = ctx.console.err.isatty()
    counts = {"total": 0, "written": 0}

    def on_total(count: int) -> None:
        counts["total"] = count

    def write_all(handle: IO[str]) -> None:
        for hit in export_hits(
            verifier,
            since=window,
            features=args.feature,
            include_code=args.include_code,
            on_total=on_total,
        ):
            handle.write(json.dumps(hit, separators=(",", ":"), ensure_ascii=False) + "\n")
            counts["written"] += 1
            if show_progress and counts["written"] % 1000 == 0:
                ctx.console.err.write(
                    f"\rexported {counts['written']:,} of {counts['total']:,} records"
                )

    if args.output is None:
        write_all(ctx.console.out)
        ctx.console.out.flush()
    else:
        _export_to_file(args.output, write_all, counts)
    if show_progress:
        ctx.console.err.write("\r")
    ctx.console.error(
        f"exported {counts['written']:,} records from {args.index} ({window.describe()})"
    )
    return EXIT_OK


def _export_to_file(
    target: Path, write_all: Callable[[IO[str]], None], counts: Mapping[str, int]
) -> None:
    """Write through ``FILE.partial`` and rename only when the export is complete.

    An export that stops half way (a partial page, a lost connection) must not sit at the
    target looking like whole evidence; what was read is kept beside it, named as partial.
    A target that exists and is not a regular file (``/dev/null``, a named pipe, a terminal)
    is written in place: renaming over it would replace the device or pipe with a file.
    """
    if target.exists() and not target.is_file():
        try:
            with target.open("w", encoding="utf-8") as handle:
                write_all(handle)
        except OSError as exc:
            raise ConfigurationError(f"cannot write {target}: {exc.strerror or exc}") from exc
        return
    partial = target.with_name(target.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8") as handle:
            try:
                write_all(handle)
            except FailoverVerifyError as exc:
                raise type(exc)(
                    f"{exc}; kept the {counts['written']:,} records read before it in {partial}"
                ) from exc
        partial.replace(target)
    except OSError as exc:
        raise ConfigurationError(f"cannot write {target}: {exc.strerror or exc}") from exc


def _link(ctx: _Context) -> int:
    args = ctx.args
    window = parse_window(args.since or "15m", args.until, now=ctx.now())
    target = link_target(kibana_url=args.kibana_url, index=args.index, data_view=args.data_view)
    judge = Judge(
        policy=ctx.policy(),
        gateway=GatewayFacts.bundled(),
        threshold=DEFAULT_THRESHOLD,
        min_count=DEFAULT_MIN_COUNT,
        kibana_url=args.kibana_url,
        data_view=target.data_view,
        index=args.index,
        time_field=args.time_field,
    )
    for signal in chosen_signals(args.feature):
        ctx.console.print(f"{signal.id}: {judge.discover_url(signal, window)}")
    # On stderr: stdout stays one "signal: URL" line per signal, for scripts.
    ctx.console.error(f"note: {target.note}")
    return EXIT_OK


_COMMANDS: Final[dict[str, Callable[[_Context], int]]] = {
    "status": _status,
    "watch": _watch,
    "export": _export,
    "link": _link,
}


def _exit_code(exc: FailoverVerifyError) -> int:
    if isinstance(exc, UsageError):
        return EXIT_USAGE
    return EXIT_UNAVAILABLE


def main(
    argv: Sequence[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
    now: Callable[[], datetime] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> int:
    """Run the CLI; returns the exit code."""
    environment = os.environ if env is None else env
    console = _Console(stdout or sys.stdout, stderr or sys.stderr)
    arguments = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in arguments
    handler = _debug_log(console) if debug else None
    try:
        args = build_parser(console.out).parse_args(arguments)
        colour = (
            console.out.isatty()
            and "NO_COLOR" not in environment
            and environment.get("TERM") != "dumb"
        )
        ctx = _Context(
            args=args,
            env=environment,
            console=console,
            style=Style(colour=colour),
            now=now or (lambda: datetime.now(UTC)),
            sleep=sleep or time.sleep,
        )
        return _COMMANDS[args.command](ctx)
    except _Exit as done:
        return done.status
    except FailoverVerifyError as exc:
        if debug:
            console.error("".join(traceback.format_exception(exc)))
        console.error(f"failover-verify: error: {exc}")
        return _exit_code(exc)
    except KeyboardInterrupt:
        console.error("failover-verify: interrupted")
        return 130
    except BrokenPipeError:
        # The reader went away (for example `| head`); nothing more to say.
        return EXIT_OK
    finally:
        if handler is not None:
            logging.getLogger(_LOGGER).removeHandler(handler)


_LOGGER: Final = "failover_verify"


class _ConsoleHandler(logging.Handler):
    """The package's log (retries, at INFO) on stderr, scrubbed like everything else."""

    def __init__(self, console: _Console) -> None:
        super().__init__(logging.INFO)
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        self.console.error(f"failover-verify: {record.getMessage()}")


def _debug_log(console: _Console) -> logging.Handler:
    handler = _ConsoleHandler(console)
    logger = logging.getLogger(_LOGGER)
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    return handler


def run() -> None:  # pragma: no cover - console entry point
    sys.exit(main())
