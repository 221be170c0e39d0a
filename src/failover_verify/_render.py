"""Human-readable output for terminals: compact per-feature tables, colour only on a TTY."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from failover_verify import _fields as f
from failover_verify._types import Role

if TYPE_CHECKING:
    from failover_verify._report import FeatureReport, Report
    from failover_verify._timeline import Timeline

__all__ = [
    "Style",
    "plain_feature",
    "plain_report",
    "render_progress",
    "render_report",
    "render_switches",
]

_COLOURS: Final = {
    "green": "32",
    "red": "31",
    "yellow": "33",
    "cyan": "36",
    "magenta": "35",
    "bold": "1",
    "dim": "2",
}
_TOP: Final = 4
# What each time field a window can be read on means, shown beside its name.
_TIME_FIELDS: Final = {
    f.INGEST_TIME: "ingestion time",
    f.LOG_TIME: "the log entry's own time",
    f.EVENT_TIME: "the gateway's event time",
}


class Style:
    """ANSI styling that turns itself off for pipes, files and NO_COLOR."""

    def __init__(self, *, colour: bool) -> None:
        self.colour = colour

    def __call__(self, text: str, *names: str) -> str:
        if not self.colour or not names:
            return text
        codes = ";".join(_COLOURS[name] for name in names)
        return f"\033[{codes}m{text}\033[0m"


def _time(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _time_field(name: str) -> str:
    meaning = _TIME_FIELDS.get(name)
    return f"{name} ({meaning})" if meaning else name


def _counts(counts: Mapping[str, int], total: int) -> str:
    if not counts:
        return "-"
    items = list(counts.items())
    shown = [
        f"{key} {value} ({value / total:.0%})" if total else f"{key} {value}"
        for key, value in items[:_TOP]
    ]
    if len(items) > _TOP:
        rest = sum(value for _, value in items[_TOP:])
        shown.append(f"{len(items) - _TOP} more {rest}")
    return ", ".join(shown)


def _verdict_style(feature: FeatureReport, expect: Role | None) -> tuple[str, ...]:
    if not feature.definite:
        return ("yellow", "bold")
    if expect is not None:
        return ("green", "bold") if feature.verdict == expect else ("red", "bold")
    return {"primary": ("cyan", "bold"), "failover": ("magenta", "bold")}.get(
        feature.verdict, ("yellow", "bold")
    )


def render_report(report: Report, style: Style, *, expect: Role | None) -> str:
    lines = [
        style(f"{report.index}  {_time(report.window.start)} → {_time(report.window.end)}", "bold"),
        style(
            f"source: {report.source} · time field: {_time_field(report.time_field)} · "
            f"policy: {report.policy} · registry: {report.registry}",
            "dim",
        ),
    ]
    lines += [style(f"note: {note}", "dim") for note in report.notes]
    if report.parse_problems.count:
        example = report.parse_problems.examples[0]
        lines.append(
            style(
                f"! {report.parse_problems.count} unreadable records "
                f"(first: {example.index}/{example.id}: {example.reason})",
                "yellow",
            )
        )
    for feature in report.features.values():
        lines.append("")
        lines += _feature_lines(feature, style, expect)
    return "\n".join(lines)


def _feature_lines(feature: FeatureReport, style: Style, expect: Role | None) -> list[str]:
    verdict = style(feature.verdict.upper().replace("_", " "), *_verdict_style(feature, expect))
    lines = [f"{style(feature.feature, 'bold'):<12}  {verdict}  {feature.reason}"]

    def row(label: str, value: str) -> None:
        lines.append(f"  {label:<15} {value}")

    if len(feature.signals) > 1:
        row("signals", _signals(feature))
    if feature.errors_by_model:
        row("errors", _errors(feature))
    if feature.total:
        share = "-" if feature.failover_share is None else f"{feature.failover_share:.1%}"
        row(
            "records",
            f"{feature.total}: primary {feature.primary}, failover {feature.failover}, "
            f"unclassified {feature.unclassified} (failover share {share})",
        )
        row("by provider", _counts(feature.by_provider, feature.total))
        row("by model", _counts(feature.by_model, feature.total))
        if feature.by_prompt_version:
            row("prompt versions", _counts(feature.by_prompt_version, feature.total))
        for role in ("primary", "failover", "unclassified"):
            span = feature.seen.get(role)
            if span is not None:
                row(f"{role} seen", f"{_time(span.first)} … {_time(span.last)}")
        for resolution in feature.resolutions[:_TOP]:
            target = f"{resolution.model or '?'} via {resolution.provider or '?'}"
            where = resolution.definition_path or resolution.detail
            row(
                "resolved",
                f"{resolution.requested_version} → {resolution.resolved_version or '?'}: {target} "
                f"[{resolution.source or resolution.status}] {where}",
            )
    lines += [style(f"  ! {problem}", "yellow") for problem in feature.problems]
    lines += [style(f"  note: {note}", "dim") for note in feature.notes]
    row("kibana", feature.kibana_url)
    return lines


def _signals(feature: FeatureReport) -> str:
    """One phrase per signal: its verdict and share, with the one that decided marked."""
    parts = []
    for key, item in feature.signals.items():
        if item.standing == "no_data":
            parts.append(f"{key} none")
            continue
        share = "" if item.failover_share is None else f" {item.failover_share:.0%}"
        verdict = {"too_few": "too few", "indistinct": "indistinct"}.get(
            item.standing, item.verdict.replace("_", " ")
        )
        mark = "*" if key == feature.decided_by else ""
        parts.append(f"{key}{mark} {verdict}{share} of {item.total}")
    return ", ".join(parts) + (" (* decided)" if feature.decided_by else "")


def _errors(feature: FeatureReport) -> str:
    shown = [
        f"{model} {count.errors}/{count.calls}"
        + ("" if count.error_share is None else f" ({count.error_share:.0%})")
        for model, count in list(feature.errors_by_model.items())[:_TOP]
    ]
    return ", ".join(shown)


def render_progress(report: Report, style: Style, now: datetime) -> str:
    """One line per poll in ``watch``."""
    parts = [style(now.astimezone(UTC).strftime("%H:%M:%SZ"), "dim")]
    for feature in report.features.values():
        share = "-" if feature.failover_share is None else f"{feature.failover_share:.0%}"
        parts.append(
            f"{feature.feature} {style(feature.verdict, *_verdict_style(feature, None))} "
            f"failover {share} of {feature.total}"
        )
    return "  ".join(parts)


def render_switches(timeline: Timeline) -> list[str]:
    return [
        f"{switch.feature}: {switch.from_role} → {switch.to_role} at {_time(switch.at)} "
        f"(first {timeline.interval_seconds}s bucket at or above {timeline.threshold:.0%})"
        for switch in timeline.switches
    ]


def plain_report(report: Report) -> str:
    """The whole report as plain text: what ``str(report)`` shows."""
    return render_report(report, Style(colour=False), expect=None)


def plain_feature(feature: FeatureReport) -> str:
    """One feature's part of the report as plain text: what ``str(feature)`` shows."""
    return "\n".join(_feature_lines(feature, Style(colour=False), None))
