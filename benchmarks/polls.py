#!/usr/bin/env python3
"""What a watch poll costs next to a verification of its window in one go, interleaved.

    python benchmarks/polls.py --es-url URL --index fv-bench-1000000 [--rounds 15]

On an index that run.py loaded: a 5-minute window polled every 10 s of data time from minute
10 of the hour, by a verifier that keeps slices (``reuse=True``) once the ingest delay has
passed, by one that keeps them only after a fixed minute (``settle=60 s``), and in one go
(``reuse=False``, the default), in a shuffled order each round. Each poll's window ends where
records are surely searchable, as watch's does. Prints each median and its multiple of the
one-go median.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

sys.path.insert(0, str(Path(__file__).resolve().parent))

import failover_verify as fv
import run
from failover_verify._window import TimeWindow

WINDOW: Final = timedelta(minutes=5)
INTERVAL: Final = timedelta(seconds=10)
FIRST: Final = run.START + timedelta(minutes=10)
ONE_GO: Final = "one go (reuse=False)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--es-url", required=True)
    parser.add_argument("--index", required=True, help="an index run.py loaded")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    client = run.connect(args.es_url)
    one = fv.Verifier(client, index=args.index, reuse=False)
    pollers = {
        "poll, slices kept after the ingest delay": fv.Verifier(
            client, index=args.index, reuse=True
        ),
        "poll, slices kept after 60 s": fv.Verifier(
            client, index=args.index, reuse=True, settle=timedelta(seconds=60)
        ),
    }
    clocks = dict.fromkeys(pollers, FIRST)

    def poll(name: str) -> float:
        now, verifier = clocks[name], pollers[name]
        span = verifier.latest_window(WINDOW, now=now)
        started = time.perf_counter()
        verifier.verify(span, now=now)
        clocks[name] = now + INTERVAL
        return time.perf_counter() - started

    def one_go(round_number: int) -> float:
        # A window of its own each time (shifted by a millisecond), as run.py's are.
        end: datetime = FIRST + INTERVAL * round_number + timedelta(milliseconds=round_number + 1)
        started = time.perf_counter()
        one.verify(TimeWindow(start=end - WINDOW, end=end))
        return time.perf_counter() - started

    for name in pollers:
        poll(name)  # the first poll keeps its slices; it is not measured
    for _ in range(3):
        one_go(0)
    times: dict[str, list[float]] = {name: [] for name in [*pollers, ONE_GO]}
    for round_number in range(args.rounds):
        order = list(times)
        random.shuffle(order)
        for name in order:
            times[name].append(one_go(round_number) if name == ONE_GO else poll(name))
    base = statistics.median(times[ONE_GO])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:42s} {median * 1000:7.1f} ms  {median / base:.2f}x one go")
    return 0


if __name__ == "__main__":
    sys.exit(main())
