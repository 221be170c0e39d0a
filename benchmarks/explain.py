#!/usr/bin/env python3
"""Where verify's time goes, next to the floor, on an index that run.py loaded.

    python benchmarks/explain.py --es-url URL --index fv-bench-1000000 [--repeats 15]

It sends verify's own msearch (both features) as it is, and with one part of each body taken
away or replaced at a time, interleaved in a shuffled order with the floor's ``_count``, so
each part's cost shows next to the floor's.
"""

from __future__ import annotations

import argparse
import functools
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, Final

import elasticsearch

import failover_verify as fv
from failover_verify._queries import signal_search
from failover_verify._signals import SIGNALS
from failover_verify._window import TimeWindow
from run import connect, floor_query, window

Body = dict[str, Any]
Edit = Callable[[Body], None]


def _groups(body: Body) -> Body:
    groups: Body = body["aggs"]["groups"]
    return groups


def _without_sub(*names: str) -> Edit:
    def edit(body: Body) -> None:
        for name in names:
            del _groups(body)["aggs"][name]

    return edit


def _set(key: str, value: object) -> Edit:
    def edit(body: Body) -> None:
        body[key] = value

    return edit


def _nested_terms(body: Body) -> None:
    # The same grouping as nested terms aggregations: cheaper, but a missing value needs a
    # placeholder that a real value could collide with, and each level has its own size cap.
    groups = _groups(body)
    sources = [
        next(iter(source.values()))["terms"]["field"] for source in groups["composite"]["sources"]
    ]
    leaf: Body = groups["aggs"]
    for depth in reversed(range(len(sources))):
        leaf = {
            f"level{depth}": {
                "terms": {"field": sources[depth], "size": 100, "missing": "(none)"},
                "aggs": leaf,
            }
        }
    body["aggs"] = leaf


def _composite_only(body: Body) -> None:
    del _groups(body)["aggs"]


def _no_aggregations(body: Body) -> None:
    del body["aggs"]


EDITS: Final[dict[str, Edit | None]] = {
    "verify's msearch as sent": None,
    "track_total_hits false": _set("track_total_hits", value=False),
    "without stats (seen)": _without_sub("seen"),
    "without top_hits (sample)": _without_sub("latest"),
    "nested terms, not composite": _nested_terms,
    "composite alone": _composite_only,
    "no aggregations": _no_aggregations,
}


def _timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def _msearch_lines(
    verifier: fv.Verifier, index: str, span: TimeWindow, edit: Edit | None
) -> list[Body]:
    lines: list[Body] = []
    for signal in SIGNALS:
        body = signal_search(signal, verifier.field_plan(), span, verifier.judge.policy)
        edited = body.to_dict()
        if edit is not None:
            edit(edited)
        lines += [{"index": index}, edited]
    return lines


def body_variants(client: elasticsearch.Elasticsearch, index: str, repeats: int) -> None:
    verifier = fv.Verifier(client, index=index)
    runs: dict[str, list[float]] = {name: [] for name in [*EDITS, "floor (_count)"]}
    shift = 0
    for round_number in range(repeats):
        calls: dict[str, Callable[[], object]] = {}
        # Every request asks about a window of its own, so no cache answers it.
        for name, edit in EDITS.items():
            shift += 1
            lines = _msearch_lines(verifier, index, window(shift), edit)
            calls[name] = functools.partial(client.msearch, searches=lines)
        shift += 1
        query = floor_query(verifier, window(shift))
        calls["floor (_count)"] = functools.partial(client.count, index=index, query=query)
        order = list(calls)
        random.Random(round_number).shuffle(order)
        for name in order:
            runs[name].append(_timed(calls[name]))
    floor = statistics.median(runs["floor (_count)"])
    print(f"{index}: {repeats} interleaved rounds, wall time of one request (ms)")
    for name, values in runs.items():
        median = statistics.median(values)
        print(
            f"  {name:<28} {median * 1e3:7.1f} ({min(values) * 1e3:.1f}-{max(values) * 1e3:.1f})"
            f"  {median / floor:5.1f}x floor"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--es-url", required=True, help="the node run.py loaded")
    parser.add_argument("--index", required=True, help="an index run.py loaded, e.g. fv-bench-N")
    parser.add_argument("--repeats", type=int, default=15, help="interleaved rounds")
    args = parser.parse_args(argv)
    client = connect(args.es_url)
    try:
        body_variants(client, args.index, args.repeats)
    finally:
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
