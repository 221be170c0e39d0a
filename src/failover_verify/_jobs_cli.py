"""Command-line pieces for scheduled runs: ``--expect flags``, ``--prometheus``, ``--record-to``.

Kept apart from ``_cli.py`` so the command line gains them through a few calls: the options
(:func:`add_job_options`), reading the flags (:func:`read_flag_states`), the JSON and terminal
forms (:func:`report_json`, :func:`render_flags`) and the after-run steps (:func:`finish_jobs`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from elasticsearch import Elasticsearch

from failover_verify._exceptions import ConfigurationError, FailoverVerifyError, UsageError
from failover_verify._expectation import Expect
from failover_verify._flags import FlagReading
from failover_verify._gitlab import read_flags
from failover_verify._history import record_report
from failover_verify._prometheus import write_metrics
from failover_verify._render import Style
from failover_verify._report import Report

__all__ = [
    "JobOptions",
    "add_job_options",
    "finish_jobs",
    "read_flag_states",
    "render_flags",
    "report_json",
]

_FLAGS_SETUP: Final = (
    "set GITLAB_URL (e.g. https://gitlab.com) and GITLAB_TOKEN (a token with read_api; an "
    "administrator's token also shows partial rollouts)"
)


def add_job_options(parser: argparse.ArgumentParser) -> None:
    """Add the options for scheduled runs to ``parser``."""
    group = parser.add_argument_group("scheduled runs")
    group.add_argument(
        "--prometheus",
        type=Path,
        metavar="FILE",
        help="also write the result as Prometheus metrics to FILE (atomically), for "
        "node_exporter's textfile collector (name it *.prom)",
    )
    group.add_argument(
        "--record-to",
        metavar="INDEX",
        help="also append the JSON report to this Elasticsearch index or data stream "
        "(created with a fitting mapping if missing)",
    )
    group.add_argument(
        "--record-es-url",
        metavar="URL",
        help="record to this cluster instead of the one read (same ES_* credentials)",
    )
    group.add_argument(
        "--strict-record",
        action="store_true",
        help="exit 4 when the report cannot be recorded (default: say so and keep the code)",
    )


@dataclass(frozen=True)
class JobOptions:
    """The scheduled-run options of one command line."""

    prometheus: Path | None = None
    record_to: str | None = None
    record_es_url: str | None = None
    strict_record: bool = False

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> JobOptions:
        """Read and check the options; raises :class:`UsageError` for combinations that fail."""
        options = cls(
            prometheus=getattr(args, "prometheus", None),
            record_to=getattr(args, "record_to", None) or None,
            record_es_url=getattr(args, "record_es_url", None) or None,
            strict_record=bool(getattr(args, "strict_record", False)),
        )
        if options.record_to is None and (options.record_es_url or options.strict_record):
            given = "--record-es-url" if options.record_es_url else "--strict-record"
            raise UsageError(f"{given} needs --record-to INDEX: the index to record to")
        if options.prometheus is not None and options.prometheus.is_dir():
            raise UsageError(
                f"--prometheus {options.prometheus} is a folder; give a file in it, "
                "e.g. failover-verify.prom"
            )
        return options


def read_flag_states(
    env: Mapping[str, str],
    features: Iterable[str],
    *,
    timeout: float,
    secrets: list[str],
) -> FlagReading:
    """Read the incident flags from the GitLab that ``GITLAB_URL`` and ``GITLAB_TOKEN`` name.

    The token is added to ``secrets`` first, so whatever prints scrubs it.
    """
    url = env.get("GITLAB_URL") or ""
    token = env.get("GITLAB_TOKEN") or ""
    if token:
        secrets.append(token)
    if not url or not token:
        missing = " and ".join(name for name in ("GITLAB_URL", "GITLAB_TOKEN") if not env.get(name))
        raise ConfigurationError(
            f"--expect flags reads the incident flags from GitLab, but {missing} "
            f"{'are' if ' and ' in missing else 'is'} not set: {_FLAGS_SETUP}"
        )
    return read_flags(url, token, features=features, request_timeout=timeout)


def report_json(
    report: Report, expect: Expect | None, flags: FlagReading | None = None
) -> dict[str, Any]:
    """The JSON form: as ``status --json`` prints it, with the flags when they set ``expect``."""
    if flags is None:
        if expect is not None and not isinstance(expect, str):
            raise UsageError("expect= per feature needs flags=, the reading it came from")
        return report.to_json_dict(expect=expect)
    expectations = flags.expectations()
    data = report.to_json_dict()
    data["ok"] = report.meets(expectations)
    data["expect"] = "flags"
    data["expectations"] = {
        feature: {
            "allows": list(expectation.allows_verdicts),
            "label": expectation.label,
            "because": expectation.because,
        }
        for feature, expectation in expectations.items()
    }
    data["flags"] = flags.to_json_dict()
    return data


def render_flags(flags: FlagReading, style: Style) -> list[str]:
    """Terminal lines: each flag's state, where it was read, and what it expects."""
    lines = [style(f"incident flags (GitLab {flags.gitlab_url}, {flags.source}):", "bold")]
    for feature, flag in flags.flags.items():
        expectation = flag.expectation
        rollout = " (partial rollout)" if flag.partial else ""
        lines.append(
            f"  {feature:<12} {flag.name}  {flag.describe()} → expects {expectation.label}{rollout}"
        )
        lines.append(style(f"  {'':<12} {flag.detail}", "dim"))
    lines += [style(f"  note: {note}", "dim") for note in flags.notes]
    return lines


def finish_jobs(
    options: JobOptions,
    data: Mapping[str, Any],
    *,
    run_time: datetime,
    exit_code: int,
    command: str,
    record_client: Callable[[], Elasticsearch],
    say: Callable[[str], None],
    warn: Callable[[str], None],
    record_failed_code: int,
) -> int:
    """Record the report and write the metrics, as asked; returns the run's exit code.

    A failure to record is reported through ``warn`` and changes the exit code (to
    ``record_failed_code``) only with ``--strict-record``. A metrics file that cannot be
    written raises :class:`ConfigurationError`: a scheduled check without its output is broken.
    """
    code = exit_code
    recorded: bool | None = None
    if options.record_to is not None:
        try:
            result = record_report(
                record_client(),
                options.record_to,
                data,
                run_time=run_time,
                exit_code=exit_code,
                command=command,
            )
        except FailoverVerifyError as exc:
            recorded = False
            consequence = (
                f"exit {record_failed_code} (--strict-record)"
                if options.strict_record
                else "the exit code is unchanged (--strict-record would make it fail)"
            )
            warn(
                f"failover-verify: could not record the report to {options.record_to}: {exc}; "
                f"{consequence}"
            )
            if options.strict_record:
                code = record_failed_code
        else:
            recorded = True
            created = ", created with the history mapping" if result.created_index else ""
            say(f"recorded the report to {result.index} (id {result.id}{created})")
    if options.prometheus is not None:
        write_metrics(options.prometheus, data, run_time=run_time, recorded=recorded)
    return code
