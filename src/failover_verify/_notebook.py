"""Reports and timelines in Jupyter: DataFrames, a plot, and HTML for rich display.

pandas and matplotlib are the ``notebook`` extra. They are imported inside the functions that
need them, so the rest of the package (and the HTML views, which need neither) works without
them; a missing one raises ImportError naming the extra to install.
"""

from __future__ import annotations

import html
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final, get_args

from failover_verify._exceptions import UsageError
from failover_verify._signals import SIGNALS
from failover_verify._types import FEATURES, NONE_KEY, Feature, RoleName, State, Verdict

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from failover_verify._registry import Resolution
    from failover_verify._report import FeatureReport, Report, RoleSpan
    from failover_verify._timeline import Switch, Timeline, TimelinePoint
    from failover_verify._window import TimeWindow

__all__ = [
    "plot_timeline",
    "report_breakdown_frame",
    "report_frame",
    "report_html",
    "timeline_frame",
    "timeline_html",
]

INSTALL_HINT: Final = "pip install 'failover-verify[notebook]'"
PROVIDER_PREFIX: Final = "provider:"
STATES: Final[tuple[State, ...]] = get_args(State)
VERDICTS: Final[tuple[Verdict, ...]] = get_args(Verdict)
ROLES: Final[tuple[RoleName, ...]] = get_args(RoleName)
UTC_NS: Final = "datetime64[ns, UTC]"
# Buckets with too few records carry no reliable share; drawing them as 0% would fake a switch.
GAP_STATES: Final = frozenset({"empty", "sparse"})
BREAKDOWN_ROWS: Final = 8

# Mid-tone colours keep their contrast on light and dark notebook themes alike.
MUTED: Final = "#777777"
SHARE_COLOUR: Final = "#3e8ed0"
COLOURS: Final[Mapping[str, str]] = {
    "primary": "#2e9e6b",
    "failover": "#e0782f",
    "mixed": "#8e6bc9",
    "inconclusive": "#c79a1e",
    "no_data": MUTED,
    "unclassified": "#c79a1e",
    "sparse": MUTED,
    "empty": MUTED,
}


def _missing(purpose: str, package: str, error: ImportError) -> ImportError:
    return ImportError(
        f"{purpose} needs {package}, which cannot be imported ({error}); "
        f"install the notebook extra: {INSTALL_HINT}",
        name=package,
    )


def _utc_column(moments: Sequence[datetime | None]) -> pd.Series[pd.Timestamp]:
    import pandas  # noqa: PLC0415

    # pandas 3 infers microseconds from datetime objects; nanoseconds match every other frame.
    converted = pandas.to_datetime(pandas.Series(list(moments), dtype=object), utc=True)
    return converted.astype(UTC_NS)


def timeline_frame(timeline: Timeline) -> pd.DataFrame:
    """One row per feature and time bucket.

    Columns:

    - ``feature`` (category): ``completion`` or ``generation``.
    - ``start`` (``datetime64[ns, UTC]``): the start of the bucket.
    - ``total``, ``primary``, ``failover``, ``unclassified`` (int64): records in the bucket.
    - ``failover_share``, ``primary_share`` (float64): share of ``total``; NaN when empty.
    - ``state`` (category): ``primary`` or ``failover`` (the share reached the threshold),
      ``mixed``, ``sparse`` (fewer than ``min_bucket_count`` records) or ``empty``.
    - ``calls``, ``errors`` (float64), ``error_share`` (float64): calls to a model in the
      bucket and how many failed, from served records; NaN where the feature has none.
    - ``provider:<name>`` (int64), one per provider seen anywhere in the timeline: records of
      that provider in the bucket, 0 when none. The most used providers come first.
    """
    try:
        import pandas  # noqa: PLC0415
    except ImportError as exc:
        raise _missing("a timeline DataFrame", "pandas", exc) from exc
    rows = [(feature, point) for feature, points in timeline.features.items() for point in points]
    providers = _ranked(point.by_provider for _, point in rows)
    columns: dict[str, object] = {
        "feature": pandas.Categorical([feature for feature, _ in rows], categories=FEATURES),
        "start": _utc_column([point.start for _, point in rows]),
        "total": _ints(point.total for _, point in rows),
        "primary": _ints(point.primary for _, point in rows),
        "failover": _ints(point.failover for _, point in rows),
        "unclassified": _ints(point.unclassified for _, point in rows),
        "failover_share": _floats(point.failover_share for _, point in rows),
        "primary_share": _floats(point.primary_share for _, point in rows),
        "state": pandas.Categorical([point.state for _, point in rows], categories=STATES),
        "calls": _floats(point.calls for _, point in rows),
        "errors": _floats(point.errors for _, point in rows),
        "error_share": _floats(point.error_share for _, point in rows),
    }
    for provider in providers:
        columns[PROVIDER_PREFIX + provider] = _ints(
            point.by_provider.get(provider, 0) for _, point in rows
        )
    return pandas.DataFrame(columns)


def report_frame(report: Report) -> pd.DataFrame:
    """One row per feature of a report.

    Columns: ``feature`` and ``verdict`` (category), ``reason``; ``total``, ``primary``,
    ``failover``, ``unclassified`` (int64); ``failover_share`` and ``primary_share``
    (float64, NaN without records); ``<role>_first_seen`` and ``<role>_last_seen``
    (``datetime64[ns, UTC]``, NaT when the role was not seen) for ``primary``, ``failover``
    and ``unclassified``; ``complete`` (bool, False when Elasticsearch answered partially).
    """
    try:
        import pandas  # noqa: PLC0415
    except ImportError as exc:
        raise _missing("a report DataFrame", "pandas", exc) from exc
    features = list(report.features.values())
    columns: dict[str, object] = {
        "feature": pandas.Categorical([item.feature for item in features], categories=FEATURES),
        "verdict": pandas.Categorical([item.verdict for item in features], categories=VERDICTS),
        "reason": [item.reason for item in features],
        "total": _ints(item.total for item in features),
        "primary": _ints(item.primary for item in features),
        "failover": _ints(item.failover for item in features),
        "unclassified": _ints(item.unclassified for item in features),
        "failover_share": _floats(item.failover_share for item in features),
        "primary_share": _floats(item.primary_share for item in features),
    }
    for role in ROLES:
        spans = [item.seen.get(role) for item in features]
        columns[f"{role}_first_seen"] = _utc_column(
            [span.first if span else None for span in spans]
        )
        columns[f"{role}_last_seen"] = _utc_column([span.last if span else None for span in spans])
    columns["complete"] = pandas.array([item.complete for item in features], dtype=bool)
    return pandas.DataFrame(columns)


def report_breakdown_frame(report: Report) -> pd.DataFrame:
    """One row per breakdown entry of every signal: records sharing their grouped values.

    Columns: ``feature`` (category); ``signal`` (``served``, ``registry``, ``input``); one
    column per grouped field of any signal (``model_engine``, ``model_name``, ``error``,
    ``model_class_provider``, ``model_identifier``, ``prompt_name``, ``model_provider``,
    ``prompt_id``, ``prompt_version``), empty where the field does not apply; ``count``
    (int64); ``role`` (category) and ``rule``, the policy rule that decided; ``provider``,
    ``model`` and ``resolved_version``, what the records resolve to (for registry records,
    through the gateway's facts of their era); ``first_seen`` and ``last_seen``
    (``datetime64[ns, UTC]``).
    """
    try:
        import pandas  # noqa: PLC0415
    except ImportError as exc:
        raise _missing("a breakdown DataFrame", "pandas", exc) from exc
    names = list(dict.fromkeys(name for signal in SIGNALS for name in signal.group_fields))
    rows = [
        (item.feature, entry)
        for item in report.features.values()
        for signal in (item.signals.values() if item.signals else [item])
        for entry in signal.breakdown
    ]
    keys = [
        key
        for item in report.features.values()
        for key, signal in (item.signals.items() if item.signals else [("", item)])
        for _ in signal.breakdown
    ]
    columns: dict[str, object] = {
        "feature": pandas.Categorical([feature for feature, _ in rows], categories=FEATURES),
        "signal": keys,
    }
    for name in names:
        columns[name] = [entry.values.get(name) for _, entry in rows]
    resolved = [_resolved(entry.values, entry.resolution) for _, entry in rows]
    columns |= {
        "count": _ints(entry.count for _, entry in rows),
        "role": pandas.Categorical([entry.role for _, entry in rows], categories=ROLES),
        "rule": [entry.rule for _, entry in rows],
        "provider": [provider for provider, _, _ in resolved],
        "model": [model for _, model, _ in resolved],
        "resolved_version": [version for _, _, version in resolved],
        "first_seen": _utc_column([entry.first_seen for _, entry in rows]),
        "last_seen": _utc_column([entry.last_seen for _, entry in rows]),
    }
    return pandas.DataFrame(columns)


def _resolved(
    values: Mapping[str, str | None], resolution: Resolution | None
) -> tuple[str | None, str | None, str | None]:
    if resolution is not None:
        return resolution.provider, resolution.model, resolution.resolved_version
    return values.get("model_provider"), values.get("model_name"), None


def _ranked(counts: Iterable[Mapping[str, int]]) -> list[str]:
    totals: Counter[str] = Counter()
    for count in counts:
        totals.update(count)
    return sorted(totals, key=lambda name: (-totals[name], name))


def _ints(values: Iterable[int]) -> object:
    import pandas  # noqa: PLC0415

    return pandas.array(list(values), dtype="int64")


def _floats(values: Iterable[float | None]) -> object:
    import pandas  # noqa: PLC0415

    return pandas.array([math.nan if value is None else value for value in values], dtype="float64")


def plot_timeline(
    timeline: Timeline,
    *,
    ax: Axes | Sequence[Axes] | None = None,
    features: Sequence[str] | None = None,
    title: str | None = None,
) -> Figure:
    """Failover share per bucket, one subplot per feature on a shared time axis.

    Dashed lines mark the threshold and one minus it (where the primary share reaches the
    threshold); vertical lines mark detected switches, labelled with the role and the time.
    Empty buckets and buckets with fewer than ``min_bucket_count`` records break the line:
    sparse ones appear as faint hollow dots, never as 0%. The background is transparent and the
    colours are mid-tones, so the figure reads on light and dark themes.

    A feature whose timeline has served records (calls to a model, and which failed) gets a
    second panel below its share: calls per bucket as bars and the error share as a line, the
    outage the failover answers.

    ``ax`` takes one Axes per plotted feature (a single Axes when one feature is plotted; the
    error panels are then left out); without it a new figure is made. The figure is returned,
    not shown.
    """
    chosen = _plotted_features(timeline, features)
    try:
        from matplotlib import ticker  # noqa: PLC0415
        from matplotlib.axes import Axes as AxesClass  # noqa: PLC0415
        from matplotlib.figure import Figure as FigureClass  # noqa: PLC0415
    except ImportError as exc:
        raise _missing("plotting a timeline", "matplotlib", exc) from exc
    created = ax is None
    error_axes: dict[Feature, Axes] = {}
    if ax is None:
        figure, axes, error_axes = _new_figure(timeline, chosen)
    else:
        axes = [ax] if isinstance(ax, AxesClass) else list(ax)
        if len(axes) != len(chosen):
            raise UsageError(
                f"plotting {len(chosen)} features needs {len(chosen)} axes, not {len(axes)}; "
                "pass one Axes per feature, or choose the features with features=[...]"
            )
        parent = axes[0].figure
        figure = parent if isinstance(parent, FigureClass) else parent.figure
    interval = timedelta(seconds=timeline.interval_seconds)
    for axis, feature in zip(axes, chosen, strict=True):
        _draw_feature(axis, timeline, feature, interval)
        axis.yaxis.set_major_formatter(ticker.PercentFormatter(xmax=1, decimals=0))
        _date_axis(axis)
        axis.xaxis.get_offset_text().set_color(MUTED)
    for feature, axis in error_axes.items():
        share_axis = _draw_errors(axis, timeline, feature, interval)
        share_axis.yaxis.set_major_formatter(ticker.PercentFormatter(xmax=1, decimals=0))
        _date_axis(axis)
    bottom = error_axes.get(chosen[-1], axes[-1])
    bottom.set_xlabel("time (UTC)", color=MUTED)
    handles = _legend_handles(timeline, chosen)
    if created:
        heading = title or (
            f"Failover share per {_duration(interval)} bucket, {_span(timeline.window)}"
        )
        figure.suptitle(heading, color=MUTED, x=0.01, ha="left", fontsize=12)
        figure.legend(
            handles=handles, loc="outside lower center", ncols=len(handles), frameon=False
        )
    else:
        if title is not None:
            figure.suptitle(title, color=MUTED)
        axes[0].legend(handles=handles, loc="best", frameon=False, fontsize="small")
    for legend in (*figure.legends, *(axis.get_legend() for axis in axes)):
        if legend is not None:
            for text in legend.get_texts():
                text.set_color(MUTED)
    return figure


def _plotted_features(timeline: Timeline, features: Sequence[str] | None) -> list[Feature]:
    if features is None:
        chosen = list(timeline.features)
    else:
        unknown = [name for name in features if name not in timeline.features]
        if unknown:
            raise UsageError(
                f"the timeline has no feature {', '.join(map(repr, unknown))}; "
                f"it has {', '.join(timeline.features) or 'none'}"
            )
        chosen = [name for name in timeline.features if name in features]
    if not chosen:
        raise UsageError("there is nothing to plot: the timeline holds no feature")
    return chosen


def _draw_feature(axis: Axes, timeline: Timeline, feature: Feature, interval: timedelta) -> None:
    points = timeline.features[feature]
    _style(axis)
    axis.set_title(feature, loc="left", color=MUTED, fontsize=11)
    axis.set_ylabel("failover share", color=MUTED)
    axis.set_ylim(-0.05, 1.05)
    axis.set_yticks([0, 0.25, 0.5, 0.75, 1])
    axis.xaxis_date(UTC)
    if not points:
        return
    edges = [_num(point.start) for point in points]
    edges.append(_num(points[-1].start + interval))
    shares = [_plotted_share(point) for point in points]
    # A post-step needs the last value repeated at the end edge to draw the last bucket.
    shares.append(shares[-1])
    # Artist ids name what each line shows, in SVG output and for code inspecting the figure.
    axis.step(edges, shares, where="post", color=SHARE_COLOUR, linewidth=1.8, gid="share")
    axis.fill_between(edges, shares, step="post", color=SHARE_COLOUR, alpha=0.15, linewidth=0)
    sparse = [point for point in points if point.state == "sparse"]
    axis.plot(
        [_num(point.start + interval / 2) for point in sparse],
        [point.failover_share or 0.0 for point in sparse],
        linestyle="none",
        marker="o",
        markersize=3.5,
        markerfacecolor="none",
        markeredgecolor=SHARE_COLOUR,
        alpha=0.6,
        gid="sparse",
    )
    for level in (timeline.threshold, 1 - timeline.threshold):
        axis.axhline(level, color=MUTED, linestyle="--", linewidth=1, gid="threshold")
    axis.set_xlim(edges[0], edges[-1])
    for switch in _switches_of(timeline, feature):
        colour = COLOURS[switch.to_role]
        at = _num(switch.at)
        axis.axvline(at, color=colour, linewidth=1.5, gid="switch")
        # Labels near the right edge go to the left of their line so they are not cut off.
        right = (at - edges[0]) / (edges[-1] - edges[0]) > 0.86
        axis.annotate(
            f"→ {switch.to_role} {_clock(switch.at, interval)} UTC",
            xy=(at, 0.5),
            xycoords=axis.get_xaxis_transform(),
            xytext=(-4 if right else 4, 0),
            textcoords="offset points",
            color=colour,
            fontsize=9,
            fontweight="bold",
            va="center",
            ha="right" if right else "left",
        )


def _new_figure(
    timeline: Timeline, chosen: Sequence[Feature]
) -> tuple[Figure, list[Axes], dict[Feature, Axes]]:
    """A figure with a share panel per feature, and an error panel under those with calls."""
    from matplotlib import pyplot  # noqa: PLC0415

    with_errors = [feature for feature in chosen if _has_calls(timeline, feature)]
    rows = len(chosen) + len(with_errors)
    # Made through pyplot so Jupyter's inline backend can display it, then closed at once so it
    # is shown once (as the returned value) and pyplot keeps no reference to it.
    figure = pyplot.figure(figsize=(12, 1.9 + 2.55 * rows), layout="constrained")
    pyplot.close(figure)
    figure.patch.set_alpha(0)
    grid = figure.subplots(rows, 1, sharex=True, squeeze=False)
    stack = [row[0] for row in grid]
    axes: list[Axes] = []
    error_axes: dict[Feature, Axes] = {}
    for feature in chosen:
        axes.append(stack.pop(0))
        if feature in with_errors:
            error_axes[feature] = stack.pop(0)
    return figure, axes, error_axes


def _has_calls(timeline: Timeline, feature: Feature) -> bool:
    return any(point.calls for point in timeline.features.get(feature, []))


def _draw_errors(axis: Axes, timeline: Timeline, feature: Feature, interval: timedelta) -> Axes:
    """Calls per bucket (bars) and their error share (line, right axis) for one feature."""
    points = timeline.features[feature]
    _style(axis)
    axis.set_title(
        f"{feature}: calls to a model, and the share that failed",
        loc="left",
        color=MUTED,
        fontsize=10,
    )
    axis.set_ylabel("calls", color=MUTED)
    axis.xaxis_date(UTC)
    width = interval / timedelta(days=1)
    axis.bar(
        [_num(point.start) for point in points],
        [point.calls or 0 for point in points],
        width=width,
        align="edge",
        color=MUTED,
        alpha=0.35,
        gid="calls",
    )
    share_axis = axis.twinx()
    _style(share_axis)
    share_axis.set_ylim(-0.05, 1.05)
    share_axis.set_ylabel("error share", color=COLOURS["inconclusive"])
    # Buckets without calls carry no share: NaN breaks the line rather than drawing 0%.
    shares = [math.nan if point.error_share is None else point.error_share for point in points]
    share_axis.plot(
        [_num(point.start + interval / 2) for point in points],
        shares,
        color=COLOURS["inconclusive"],
        linewidth=1.6,
        marker="o",
        markersize=2.5,
        gid="error_share",
    )
    return share_axis


# matplotlib.dates carries no annotations, so its calls are wrapped once, typed, here.
def _num(moment: datetime) -> float:
    from matplotlib import dates  # noqa: PLC0415

    return float(dates.date2num(moment))  # type: ignore[no-untyped-call]


def _date_axis(axis: Axes) -> None:
    from matplotlib import dates  # noqa: PLC0415

    locator = dates.AutoDateLocator(tz=UTC)  # type: ignore[no-untyped-call]
    axis.xaxis.set_major_locator(locator)
    axis.xaxis.set_major_formatter(
        dates.ConciseDateFormatter(locator, tz=UTC)  # type: ignore[no-untyped-call]
    )


def _plotted_share(point: TimelinePoint) -> float:
    if point.state in GAP_STATES or point.failover_share is None:
        return math.nan
    return point.failover_share


def _style(axis: Axes) -> None:
    axis.set_facecolor("none")
    axis.tick_params(colors=MUTED, labelcolor=MUTED)
    for name, spine in axis.spines.items():
        spine.set_color(MUTED)
        spine.set_visible(name in ("left", "bottom"))
    axis.grid(visible=True, color=MUTED, alpha=0.25, linewidth=0.6)


def _legend_handles(timeline: Timeline, chosen: Sequence[Feature]) -> list[Artist]:
    from matplotlib.lines import Line2D as line  # noqa: N813, PLC0415

    handles: list[Artist] = [
        line([], [], color=SHARE_COLOUR, linewidth=1.8, label="failover share"),
    ]
    if any(point.state == "sparse" for feature in chosen for point in timeline.features[feature]):
        handles.append(
            line(
                [],
                [],
                linestyle="none",
                marker="o",
                markersize=4,
                markerfacecolor="none",
                markeredgecolor=SHARE_COLOUR,
                label=f"sparse (< {timeline.min_bucket_count} records)",
            )
        )
    handles.append(
        line(
            [],
            [],
            color=MUTED,
            linestyle="--",
            linewidth=1,
            label=f"threshold {timeline.threshold:.0%} / {1 - timeline.threshold:.0%}",
        )
    )
    roles = {switch.to_role for switch in timeline.switches if switch.feature in chosen}
    handles.extend(
        line([], [], color=COLOURS[role], linewidth=1.5, label=f"switch to {role}")
        for role in ("failover", "primary")
        if role in roles
    )
    return handles


def _switches_of(timeline: Timeline, feature: Feature) -> list[Switch]:
    return [switch for switch in timeline.switches if switch.feature == feature]


def _clock(moment: datetime, interval: timedelta) -> str:
    utc = moment.astimezone(UTC)
    return utc.strftime("%H:%M" if interval.total_seconds() % 60 == 0 else "%H:%M:%S")


def _duration(interval: timedelta) -> str:
    seconds = int(interval.total_seconds())
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _span(window: TimeWindow) -> str:
    start, end = window.start.astimezone(UTC), window.end.astimezone(UTC)
    until = end.strftime("%H:%M:%SZ" if end.date() == start.date() else "%Y-%m-%d %H:%M:%SZ")
    return f"{start:%Y-%m-%d %H:%M:%SZ} to {until}"


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _time(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _badge(label: str, colour_key: str) -> str:
    colour = COLOURS.get(colour_key, MUTED)
    style = (
        f"display:inline-block;padding:0 .6em;border-radius:.8em;border:1px solid {colour};"
        f"color:{colour};background:{colour}26;font-weight:600;white-space:nowrap"
    )
    return f'<span style="{_e(style)}">{_e(label)}</span>'


# A column is its heading and whether it holds numbers, which are right-aligned.
Column = tuple[str, bool]


def _table(columns: Sequence[Column], rows: Iterable[Sequence[str]]) -> str:
    """A table of cells that are already HTML; only the headings are escaped here."""

    def cell(tag: str, content: str, *, numeric: bool) -> str:
        align = "right" if numeric else "left"
        style = f"text-align:{align};padding:2px 8px;vertical-align:top"
        return f'<{tag} style="{_e(style)}">{content}</{tag}>'

    head = "".join(cell("th", _e(name), numeric=numeric) for name, numeric in columns)
    body = "".join(
        "<tr>"
        + "".join(
            cell("td", content, numeric=numeric)
            for content, (_, numeric) in zip(row, columns, strict=True)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _list(title: str, items: Sequence[str]) -> str:
    if not items:
        return ""
    entries = "".join(f"<li>{_e(item)}</li>" for item in items)
    return f'<div style="margin-top:4px"><strong>{_e(title)}</strong><ul>{entries}</ul></div>'


def _counts(counts: Mapping[str, int], total: int) -> str:
    if not counts:
        return "-"
    return ", ".join(
        f"{_e(name)} {_e(count)}" + (f" ({_e(f'{count / total:.0%}')})" if total else "")
        for name, count in counts.items()
    )


def _seen(span: RoleSpan | None) -> str:
    if span is None or span.first is None:
        return "-"
    return f"{_e(_time(span.first))} → {_e(_time(span.last))}"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


_WRAPPER: Final = '<div style="font-size:13px;line-height:1.45;max-width:100%;overflow-x:auto">'
_REPORT_COLUMNS: Final[tuple[Column, ...]] = (
    ("feature", False),
    ("verdict", False),
    ("records", True),
    ("primary", True),
    ("failover", True),
    ("unclassified", True),
    ("failover share", True),
    ("primary seen", False),
    ("failover seen", False),
)
_BREAKDOWN_COLUMNS: Final[tuple[Column, ...]] = (
    ("records", True),
    ("role", False),
    ("values", False),
    ("rule", False),
)
_TIMELINE_COLUMNS: Final[tuple[Column, ...]] = (
    ("feature", False),
    ("last state", False),
    ("records", True),
    ("primary", True),
    ("failover", True),
    ("unclassified", True),
    ("buckets", False),
    ("switches", False),
)


def report_html(report: Report) -> str:
    """The report as self-contained HTML: verdict badges, counts, providers, breakdown, notes."""
    header = (
        f"<div><strong>failover-verify report</strong> · {_e(_span(report.window))}"
        f" · source {_e(report.source)} · index {_e(report.index)} · threshold "
        f"{_e(f'{report.threshold:.0%}')}, at least {_e(report.min_count)} records</div>"
    )
    rows = []
    for item in report.features.values():
        verdict = _badge(item.verdict, item.verdict)
        if not item.complete:
            verdict += " " + _badge("partial", "inconclusive")
        rows.append(
            [
                _e(item.feature),
                verdict,
                _e(item.total),
                _e(item.primary),
                _e(item.failover),
                _e(item.unclassified),
                _e(_share(item.failover_share)),
                _seen(item.seen.get("primary")),
                _seen(item.seen.get("failover")),
            ]
        )
    details = "".join(_feature_details(item) for item in report.features.values())
    notes = _list("Notes", report.notes)
    if report.parse_problems.count:
        unreadable = f"{_plural(report.parse_problems.count, 'hit')} could not be read as records"
        notes += _list("Unreadable records", [unreadable])
    return f"{_WRAPPER}{header}{_table(_REPORT_COLUMNS, rows)}{details}{notes}</div>"


def _feature_details(item: FeatureReport) -> str:
    parts = [
        f'<div style="margin-top:8px"><strong>{_e(item.feature)}</strong>: {_e(item.reason)}',
        f"<div>providers: {_counts(item.by_provider, item.total)}</div>",
        f"<div>models: {_counts(item.by_model, item.total)}</div>",
    ]
    if item.by_prompt_version:
        parts.append(f"<div>prompt versions: {_counts(item.by_prompt_version, item.total)}</div>")
    if item.signals:
        shown = ", ".join(
            f"{_e(key)}{' (decided)' if key == item.decided_by else ''}: "
            f"{_badge(signal.verdict.replace('_', ' '), signal.verdict)} {_e(signal.total)}"
            for key, signal in item.signals.items()
        )
        parts.append(f"<div>signals: {shown}</div>")
    if item.errors_by_model:
        errors = ", ".join(
            f"{_e(model)} {_e(count.errors)}/{_e(count.calls)} failed"
            for model, count in item.errors_by_model.items()
        )
        parts.append(f"<div>errors: {errors}</div>")
    if item.failed_indices:
        parts.append(f"<div>failed indices: {_e(', '.join(item.failed_indices))}</div>")
    parts.append(_list("Problems", item.problems))
    parts.append(_list("Notes", item.notes))
    if item.breakdown:
        rows = [
            [
                _e(entry.count),
                _badge(entry.role, entry.role),
                ", ".join(
                    f"{_e(name)}={_e(NONE_KEY if value is None else value)}"
                    for name, value in entry.values.items()
                ),
                _e(entry.rule or ""),
            ]
            for entry in item.breakdown[:BREAKDOWN_ROWS]
        ]
        summary = f"breakdown: {_plural(len(item.breakdown), 'group')}"
        if len(item.breakdown) > BREAKDOWN_ROWS:
            summary += f", the largest {BREAKDOWN_ROWS} shown"
        parts.append(
            f"<details><summary>{_e(summary)}</summary>{_table(_BREAKDOWN_COLUMNS, rows)}</details>"
        )
    parts.append("</div>")
    return "".join(parts)


def timeline_html(timeline: Timeline) -> str:
    """The timeline as self-contained HTML: per-feature state, counts, switches and a strip."""
    interval = timedelta(seconds=timeline.interval_seconds)
    header = (
        f"<div><strong>failover-verify timeline</strong> · {_e(_span(timeline.window))}"
        f" · {_e(_duration(interval))} buckets · threshold {_e(f'{timeline.threshold:.0%}')}"
        f", at least {_e(timeline.min_bucket_count)} records per bucket</div>"
    )
    rows = []
    strips = []
    for feature, points in timeline.features.items():
        settled = [point.state for point in points if point.state not in GAP_STATES]
        state = _badge(settled[-1], settled[-1]) if settled else _badge("no data", "no_data")
        if not timeline.complete:
            state += " " + _badge("partial", "inconclusive")
        states = Counter(point.state for point in points)
        buckets = f"{len(points)}: " + ", ".join(
            f"{states[name]} {name}" for name in STATES if states[name]
        )
        switches = "<br>".join(
            f'<span style="color:{_e(COLOURS[switch.to_role])}">'
            f"→ {_e(switch.to_role)} at {_e(_time(switch.at))}</span>"
            for switch in _switches_of(timeline, feature)
        )
        rows.append(
            [
                _e(feature),
                state,
                *(
                    _e(sum(getattr(point, name) for point in points))
                    for name in ("total", "primary", "failover", "unclassified")
                ),
                _e(buckets),
                switches or "none",
            ]
        )
        strips.append(f'<div style="margin-top:4px">{_e(feature)}{_strip(points, interval)}</div>')
    problems = _list("Problems", timeline.problems)
    table = _table(_TIMELINE_COLUMNS, rows)
    return f"{_WRAPPER}{header}{table}{''.join(strips)}{problems}</div>"


def _strip(points: Sequence[TimelinePoint], interval: timedelta) -> str:
    # Runs of equal states keep the strip small however many buckets the timeline has.
    runs: list[tuple[State, datetime, int]] = []
    for point in points:
        if runs and runs[-1][0] == point.state:
            state, start, length = runs[-1]
            runs[-1] = (state, start, length + 1)
        else:
            runs.append((point.state, point.start, 1))
    spans = []
    for state, start, length in runs:
        # Sparse and empty runs are faint, so a glance reads only the settled states.
        fill = COLOURS[state] + ("33" if state in GAP_STATES else "")
        title = (
            f"{_time(start)} to {_time(start + interval * length)}: "
            f"{state} ({_plural(length, 'bucket')})"
        )
        style = f"flex:{length} 0 0;background:{fill}"
        spans.append(f'<span title="{_e(title)}" style="{_e(style)}"></span>')
    return f'<div style="display:flex;height:8px;min-width:240px">{"".join(spans)}</div>'
