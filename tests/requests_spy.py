"""A spy on the searches a verifier sends: the bodies go through to the node and are kept."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from failover_verify import Verifier

__all__ = ["Recorder"]


class Recorder:
    """The search bodies a verifier's reader sends, by request."""

    def __init__(self, verifier: Verifier) -> None:
        self.requests: list[list[Mapping[str, Any]]] = []
        reader = verifier.reader
        msearch, search = reader.msearch, reader.search

        def recorded_msearch(index: str, bodies: Sequence[Mapping[str, Any]]) -> Any:
            self.requests.append(list(bodies))
            return msearch(index, bodies)

        def recorded_search(index: str | None, body: Mapping[str, Any]) -> Any:
            self.requests.append([body])
            return search(index, body)

        reader.msearch = recorded_msearch  # type: ignore[method-assign]
        reader.search = recorded_search  # type: ignore[method-assign]

    def asked_seconds(self) -> float:
        """How much time the slice searches of the last request asked about, at most for any
        one signal (0 when there was no slice search)."""
        asked = [
            sum((end - start).total_seconds() for start, end in _ranges(body))
            for body in self.requests[-1]
            if "date_histogram" in str(body)
        ]
        return max(asked, default=0.0)


def _ranges(body: object) -> Iterator[tuple[datetime, datetime]]:
    if isinstance(body, Mapping):
        for key, value in body.items():
            if key == "range":
                (bounds,) = value.values()
                yield datetime.fromisoformat(bounds["gte"]), datetime.fromisoformat(bounds["lt"])
            else:
                yield from _ranges(value)
    elif isinstance(body, list):
        for item in body:
            yield from _ranges(item)
