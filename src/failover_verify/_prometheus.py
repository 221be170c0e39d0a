"""Prometheus metrics from a report, for node_exporter's textfile collector.

Built with prometheus-client (its registry, exposition format and atomic textfile writer)
rather than by hand: label escaping, NaN spelling and the format's details are its job.
Everything is read from the report's JSON form, so keys added to it later (per-signal
results) reach :func:`signal_families` without changing the other series.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from failover_verify._exceptions import ConfigurationError
from failover_verify._extras import require
from failover_verify._report import Report

if TYPE_CHECKING:
    from prometheus_client.core import GaugeMetricFamily, Metric
    from prometheus_client.registry import CollectorRegistry

__all__ = ["metrics_text", "write_metrics"]

PREFIX: Final = "failover_verify"
ROLES: Final = ("primary", "failover", "unclassified")
VERDICTS: Final = ("primary", "failover", "mixed", "no_data", "inconclusive")
FLAG_STATES: Final = ("on", "off", "conditional")


def _require() -> None:
    require("prometheus_client", purpose="writing Prometheus metrics", package="prometheus-client")


def _as_json(report: Report | Mapping[str, Any]) -> Mapping[str, Any]:
    return report.to_json_dict() if isinstance(report, Report) else report


def metrics_registry(
    report: Report | Mapping[str, Any],
    *,
    run_time: datetime,
    recorded: bool | None = None,
) -> CollectorRegistry:
    """A registry holding the report's metrics (see the README for the series).

    ``report`` is a :class:`~failover_verify.Report` or its JSON form (``ok``, ``expect`` and,
    from ``--expect flags``, ``flags`` and ``expectations`` included). ``recorded`` says
    whether recording the report to Elasticsearch worked (None: not asked).
    """
    _require()
    from prometheus_client.registry import (  # noqa: PLC0415 - optional dependency
        Collector,
        CollectorRegistry,
    )

    families = list(_families(_as_json(report), run_time=run_time, recorded=recorded))

    class _ReportCollector(Collector):
        def collect(self) -> Iterator[Metric]:
            yield from families

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ReportCollector())
    return registry


def metrics_text(
    report: Report | Mapping[str, Any], *, run_time: datetime, recorded: bool | None = None
) -> str:
    """The metrics in Prometheus text format."""
    registry = metrics_registry(report, run_time=run_time, recorded=recorded)
    from prometheus_client.exposition import generate_latest  # noqa: PLC0415 - optional

    return generate_latest(registry).decode("utf-8")


def write_metrics(
    path: Path,
    report: Report | Mapping[str, Any],
    *,
    run_time: datetime,
    recorded: bool | None = None,
) -> None:
    """Write the metrics to ``path`` atomically, for node_exporter's textfile collector.

    prometheus-client writes a temporary file beside ``path`` and renames it over ``path``, so
    the collector never reads half a file. The collector reads only files ending in ``.prom``.
    """
    registry = metrics_registry(report, run_time=run_time, recorded=recorded)
    from prometheus_client.exposition import write_to_textfile  # noqa: PLC0415 - optional

    if not path.parent.is_dir():
        raise ConfigurationError(
            f"cannot write the metrics file {path}: its folder {path.parent} does not exist; "
            "write it into node_exporter's --collector.textfile.directory"
        )
    if path.exists() and not path.is_file():
        # Renaming the temporary file over it would replace a device or pipe with a file.
        raise ConfigurationError(
            f"cannot write the metrics file {path}: it is not a regular file; give a path "
            "ending in .prom in node_exporter's --collector.textfile.directory"
        )
    try:
        write_to_textfile(str(path), registry)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot write the metrics file {path}: {exc.strerror or exc}; check that the "
            "folder is writable by this user"
        ) from exc


def _families(
    data: Mapping[str, Any], *, run_time: datetime, recorded: bool | None
) -> Iterator[Metric]:
    from prometheus_client.core import GaugeMetricFamily as gauge  # noqa: PLC0415, N813

    features: Mapping[str, Mapping[str, Any]] = data.get("features") or {}

    records = gauge(
        f"{PREFIX}_records",
        "Records in the checked window, by feature and role (primary, failover, unclassified).",
        labels=["feature", "role"],
    )
    shares = gauge(
        f"{PREFIX}_share",
        "Share of the feature's records in each role (0 to 1); NaN when there are none.",
        labels=["feature", "role"],
    )
    verdicts = gauge(
        f"{PREFIX}_verdict",
        "1 for the feature's current verdict, 0 for every other verdict.",
        labels=["feature", "verdict"],
    )
    for name, feature in features.items():
        total = int(feature.get("total") or 0)
        for role in ROLES:
            count = int(feature.get(role) or 0)
            records.add_metric([name, role], count)
            shares.add_metric([name, role], count / total if total else math.nan)
        for verdict in VERDICTS:
            verdicts.add_metric([name, verdict], 1 if feature.get("verdict") == verdict else 0)
    yield from (records, shares, verdicts)

    if data.get("expect") is not None:
        ok = data.get("ok")
        yield gauge(
            f"{PREFIX}_ok",
            "1 if every verdict is as expected, 0 if one contradicts it, NaN if one cannot be "
            "told. Absent without an expectation.",
            value=math.nan if ok is None else (1 if ok else 0),
        )
        yield _expected(data, features)

    flags = data.get("flags")
    if isinstance(flags, Mapping):
        yield _flag_family(flags)

    if recorded is not None:
        yield gauge(
            f"{PREFIX}_recorded",
            "1 if the report was recorded to the history index, 0 if recording failed.",
            value=1 if recorded else 0,
        )
    yield gauge(
        f"{PREFIX}_last_run_timestamp_seconds",
        "When the check ran (Unix time).",
        value=run_time.timestamp(),
    )
    yield from signal_families({name: _signal_list(f) for name, f in features.items()})
    yield from error_families(features)


def _expected(data: Mapping[str, Any], features: Mapping[str, Any]) -> GaugeMetricFamily:
    from prometheus_client.core import GaugeMetricFamily  # noqa: PLC0415 - optional

    family = GaugeMetricFamily(
        f"{PREFIX}_expected",
        "1 for each verdict the expectation allows for the feature, 0 for the others.",
        labels=["feature", "verdict"],
    )
    expectations: Mapping[str, Mapping[str, Any]] = data.get("expectations") or {}
    for name in features:
        allowed = expectations.get(name, {}).get("allows") or [data.get("expect")]
        for verdict in VERDICTS:
            family.add_metric([name, verdict], 1 if verdict in allowed else 0)
    return family


def _flag_family(flags: Mapping[str, Any]) -> GaugeMetricFamily:
    from prometheus_client.core import GaugeMetricFamily  # noqa: PLC0415 - optional

    family = GaugeMetricFamily(
        f"{PREFIX}_flag",
        "1 for the incident flag's current state (on, off, conditional), 0 for the others; "
        "source is where it was read (features API or GraphQL).",
        labels=["flag", "feature", "state", "source"],
    )
    by_feature: Mapping[str, Mapping[str, Any]] = flags.get("flags") or {}
    for feature, flag in by_feature.items():
        for state in FLAG_STATES:
            family.add_metric(
                [str(flag.get("name")), feature, state, str(flag.get("source"))],
                1 if flag.get("state") == state else 0,
            )
    return family


def _signal_list(feature: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    # Reports carry signals as a mapping of name to its report; a list is taken as it is.
    signals = feature.get("signals") or {}
    if isinstance(signals, Mapping):
        return [value for value in signals.values() if isinstance(value, Mapping)]
    return [value for value in signals if isinstance(value, Mapping)]


def error_families(features: Mapping[str, Mapping[str, Any]]) -> list[Metric]:
    """Calls and error share per model, from the served records (``errors_by_model``)."""
    if not any(feature.get("errors_by_model") for feature in features.values()):
        return []
    _require()
    from prometheus_client.core import GaugeMetricFamily as gauge  # noqa: PLC0415, N813

    calls = gauge(
        f"{PREFIX}_model_calls",
        "Calls to each model in the checked window (served records), by feature and model.",
        labels=["feature", "model"],
    )
    errors = gauge(
        f"{PREFIX}_model_error_share",
        "Share of each model's calls that failed in the checked window (NaN without calls).",
        labels=["feature", "model"],
    )
    for name, feature in features.items():
        for model, count in (feature.get("errors_by_model") or {}).items():
            calls.add_metric([name, str(model)], int(count.get("calls") or 0))
            share = count.get("error_share")
            errors.add_metric([name, str(model)], math.nan if share is None else float(share))
    return [calls, errors]


def signal_families(
    signals_by_feature: Mapping[str, Sequence[Mapping[str, Any]]],
) -> list[Metric]:
    """Per-signal series, for reports that carry a ``signals`` list per feature.

    The hook for per-signal results: each signal is expected as a mapping with a ``signal``
    (or ``name``) and, where known, ``verdict`` and counts per role, as the feature itself
    has. It adds ``failover_verify_signal_records{feature,signal,role}`` and
    ``failover_verify_signal_verdict{feature,signal,verdict}`` and leaves the feature series
    unchanged. No signals (today's reports) means no series.
    """
    if not any(signals_by_feature.values()):
        return []
    _require()
    from prometheus_client.core import GaugeMetricFamily as gauge  # noqa: PLC0415, N813

    records = gauge(
        f"{PREFIX}_signal_records",
        "Records of one signal in the checked window, by feature, signal and role.",
        labels=["feature", "signal", "role"],
    )
    verdicts = gauge(
        f"{PREFIX}_signal_verdict",
        "1 for the signal's current verdict, 0 for every other verdict.",
        labels=["feature", "signal", "verdict"],
    )
    for feature, signals in signals_by_feature.items():
        for signal in signals:
            name = signal.get("signal") or signal.get("name")
            if not name:
                continue
            for role in ROLES:
                if role in signal:
                    records.add_metric([feature, str(name), role], int(signal[role] or 0))
            if "verdict" in signal:
                for verdict in VERDICTS:
                    verdicts.add_metric(
                        [feature, str(name), verdict], 1 if signal["verdict"] == verdict else 0
                    )
    return [records, verdicts]
