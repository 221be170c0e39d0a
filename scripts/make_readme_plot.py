#!/usr/bin/env python3
"""Render the README's timeline picture from the bundled 2026-11 incident fixture.

    python scripts/make_readme_plot.py [--output docs/timeline.png]

The picture is the 1-minute timeline of ``fixtures/incident-2026-11.ndjson``, drawn by
``Timeline.plot()`` exactly as a notebook user sees it, on a transparent background so it
reads on light and dark README themes. Run it with a Python that has the package and its
``notebook`` extra installed (``pip install -e '.[notebook]'``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import failover_verify as fv

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "fixtures" / "incident-2026-11.ndjson"
DEFAULT_OUTPUT = ROOT / "docs" / "timeline.png"
# The fixture logs about 4 generation requests a minute; with the default minimum of 5 most
# 1-minute generation buckets would count as sparse and the picture would show gaps only.
MIN_BUCKET_COUNT = 3
DPI = 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="PNG file to write")
    args = parser.parse_args()
    timeline = fv.timeline_hits(
        fv.read_ndjson(FIXTURE), interval="1m", min_bucket_count=MIN_BUCKET_COUNT
    )
    figure = timeline.plot()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    # Fixed size and no tight bbox, so a rerun rewrites the picture with the same dimensions.
    figure.savefig(args.output, dpi=DPI, transparent=True, metadata={"Software": None})
    width, height = (round(inches * DPI) for inches in figure.get_size_inches())
    print(f"wrote {args.output} ({width}x{height})")


if __name__ == "__main__":
    main()
