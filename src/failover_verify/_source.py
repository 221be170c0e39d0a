"""Reading exported records (NDJSON, one hit per line) for offline verification."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from failover_verify._exceptions import SourceError, UsageError
from failover_verify._records import NOT_OURS, ParseProblem, Record, parse_fast, parse_hit

__all__ = ["RecordsFile", "read_ndjson"]


def read_ndjson(path: str | Path) -> RecordsFile:
    """The hits of an NDJSON file, one per line, streaming: iterate over it.

    A line may be a hit as ``export`` writes it (``_index``, ``_id``, ``_source`` or
    ``fields``) or a bare document, which is wrapped as a hit with its line number as id.
    A line that is not a JSON object is yielded as a :class:`ParseProblem`, so it is
    counted instead of stopping the run. Lines end with ``\n`` (``\r\n`` too).

    Given to :func:`~failover_verify.verify_hits` or :func:`~failover_verify.timeline_hits`
    before it is iterated, the file is read on a faster path that parses each line's text
    straight into a record and decodes only the hits shown as evidence; the report is the same.
    """
    return RecordsFile(path)


class RecordsFile(Iterator[dict[str, Any] | ParseProblem]):
    """The hits of an NDJSON file, as :func:`read_ndjson` gives them."""

    __slots__ = ("_items", "path")

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._items: Iterator[dict[str, Any] | ParseProblem] | None = None

    def __repr__(self) -> str:
        return f"RecordsFile({str(self.path)!r})"

    def __next__(self) -> dict[str, Any] | ParseProblem:
        if self._items is None:
            self._items = (self._decode(number, text) for number, text in self._lines())
        return next(self._items)

    @property
    def started(self) -> bool:
        """Whether iteration has begun (the fast path reads only a file not yet started)."""
        return self._items is not None

    def parsed(self) -> Iterator[tuple[Record | ParseProblem, Mapping[str, Any] | bytes]]:
        """Each record or problem in the file, with its hit (or the hit's JSON text).

        The records and problems are those :func:`parse_hit` gives for the hits this file
        yields, in the same order; hits of other messages are left out.
        """
        if self._items is not None:
            raise UsageError(f"{self!r} has already been read from; read the file again")
        self._items = iter(())
        for number, text in self._lines():
            outcome = parse_fast(text)
            if not isinstance(outcome, str):
                yield outcome, text
                continue
            if outcome == NOT_OURS:
                continue
            # Anything else, a bare document among them, is read as iteration reads it.
            hit = self._decode(number, text)
            parsed = hit if isinstance(hit, ParseProblem) else parse_hit(hit)
            if parsed is not None:
                yield parsed, ({} if isinstance(hit, ParseProblem) else hit)

    def _lines(self) -> Iterator[tuple[int, bytes]]:
        try:
            handle = self.path.open("rb")
        except OSError as exc:
            raise SourceError(
                f"cannot read the records file {self.path}: {exc.strerror or exc}"
            ) from exc
        with handle:
            for number, line in enumerate(handle, start=1):
                text = line.strip()
                if text:
                    yield number, text

    def _decode(self, number: int, text: bytes) -> dict[str, Any] | ParseProblem:
        try:
            item = json.loads(text.decode("utf-8", errors="replace"))
        except json.JSONDecodeError as exc:
            return _broken(self.path, number, f"line {number} is not JSON ({exc.msg})")
        if not isinstance(item, dict):
            return _broken(
                self.path, number, f"line {number} is a JSON {type(item).__name__}, not an object"
            )
        if "_source" in item or "fields" in item:
            return item
        return {"_index": self.path.name, "_id": f"line-{number}", "_source": item}


def _broken(location: Path, number: int, reason: str) -> ParseProblem:
    return ParseProblem(index=location.name, id=f"line-{number}", reason=reason)
