"""Reading exported records (NDJSON, one hit per line) for offline verification."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from failover_verify._exceptions import SourceError
from failover_verify._records import ParseProblem

__all__ = ["read_ndjson"]


def read_ndjson(path: str | Path) -> Iterator[dict[str, Any] | ParseProblem]:
    """Yield one hit per line of an NDJSON file, streaming.

    A line may be a hit as ``export`` writes it (``_index``, ``_id``, ``_source`` or
    ``fields``) or a bare document, which is wrapped as a hit with its line number as id.
    A line that is not a JSON object is yielded as a :class:`ParseProblem`, so it is
    counted instead of stopping the run.
    """
    location = Path(path)
    try:
        handle = location.open("r", encoding="utf-8", errors="replace")
    except OSError as exc:
        raise SourceError(
            f"cannot read the records file {location}: {exc.strerror or exc}"
        ) from exc
    with handle:
        for number, line in enumerate(handle, start=1):
            text = line.strip()
            if not text:
                continue
            try:
                item = json.loads(text)
            except json.JSONDecodeError as exc:
                yield _broken(location, number, f"line {number} is not JSON ({exc.msg})")
                continue
            if not isinstance(item, dict):
                yield _broken(
                    location,
                    number,
                    f"line {number} is a JSON {type(item).__name__}, not an object",
                )
                continue
            if "_source" in item or "fields" in item:
                yield item
            else:
                yield {"_index": location.name, "_id": f"line-{number}", "_source": item}


def _broken(location: Path, number: int, reason: str) -> ParseProblem:
    return ParseProblem(index=location.name, id=f"line-{number}", reason=reason)
