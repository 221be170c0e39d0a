"""Which concrete fields to query and aggregate on, decided from the field-capabilities API.

The same logical field may be mapped ``keyword``, or ``text`` with or without a ``.keyword``
sub-field, and may differ between the indices a pattern matches. Guessing wrong silently
returns zero hits or fails shards, so the choice is made from what the cluster reports.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["FieldChoice", "FieldPlan", "plan_fields"]

_DATE_TYPES = frozenset({"date", "date_nanos"})
_SHOWN = 3


class FieldChoice(BaseModel):
    """How to use one logical field across every index of the pattern."""

    model_config = ConfigDict(frozen=True)

    name: str
    mapped: bool
    types: tuple[str, ...] = ()
    exact_field: str | None = None
    """A field that holds the whole value and can be aggregated in every index, if any."""
    problem: str | None = None
    """Why the field cannot be counted exactly, when it cannot."""

    @property
    def match_field(self) -> str:
        """The field for an exact-value filter: the exact field, else the field itself.

        A ``match_phrase`` on the field itself is exact on ``keyword`` and a phrase match on
        ``text``; it is the best available when no aggregatable variant exists.
        """
        return self.exact_field or self.name


class FieldPlan(BaseModel):
    """Field choices for one index pattern, as the field-capabilities API described it."""

    model_config = ConfigDict(frozen=True)

    index: str
    indices: tuple[str, ...]
    time_field: str
    time_problem: str | None
    fields: dict[str, FieldChoice]
    unreachable: dict[str, str] = {}
    """Indices (or remote ``cluster:pattern``) the API could not read, with the reason."""

    def choice(self, name: str) -> FieldChoice:
        return self.fields[name]


def plan_fields(
    response: Mapping[str, Any], *, index: str, time_field: str, names: Iterable[str]
) -> FieldPlan:
    """Read a ``_field_caps`` response for ``names`` (and their ``.keyword`` sub-fields)."""
    caps: Mapping[str, Mapping[str, Any]] = response.get("fields") or {}
    indices = tuple(sorted(str(name) for name in response.get("indices") or ()))
    return FieldPlan(
        index=index,
        indices=indices,
        time_field=time_field,
        time_problem=_time_problem(caps.get(time_field), time_field),
        fields={name: _choose(name, caps, indices) for name in names},
        unreachable=_unreachable(response.get("failures") or ()),
    )


def _unreachable(failures: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    # A remote cluster skipped as unavailable shows up only here (and in a search's _clusters).
    found: dict[str, str] = {}
    for failure in failures:
        error = (failure.get("failure") or {}).get("error") or {}
        reason = str(error.get("type", "error"))
        if error.get("reason"):
            reason = f"{reason}: {error['reason']}"
        for index in failure.get("indices") or ():
            found[str(index)] = reason
    return found


def _mapped_types(entry: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    # Requests use include_unmapped, so indices lacking the field show as type "unmapped".
    return {kind: caps for kind, caps in (entry or {}).items() if kind != "unmapped"}


def _mapped_indices(entry: Mapping[str, Any] | None, all_indices: tuple[str, ...]) -> set[str]:
    # A type entry lists its indices only when the field differs between indices.
    found: set[str] = set()
    for caps in _mapped_types(entry).values():
        found.update(caps.get("indices") or all_indices)
    return found


def _time_problem(entry: Mapping[str, Any] | None, time_field: str) -> str | None:
    types = set(_mapped_types(entry))
    if not types:
        return f"the time field {time_field} is not mapped in any matching index"
    if not types <= _DATE_TYPES:
        return (
            f"the time field {time_field} is mapped as {', '.join(sorted(types))}, not as a date; "
            "choose a date field with time_field="
        )
    return None


def _fully_aggregatable(entry: Mapping[str, Any] | None) -> bool:
    types = _mapped_types(entry)
    return bool(types) and all(
        bool(caps.get("aggregatable")) and not caps.get("non_aggregatable_indices")
        for caps in types.values()
    )


def _choose(
    name: str, caps: Mapping[str, Mapping[str, Any]], indices: tuple[str, ...]
) -> FieldChoice:
    entry, keyword_entry = caps.get(name), caps.get(f"{name}.keyword")
    parent_types, keyword_types = _mapped_types(entry), _mapped_types(keyword_entry)
    if not parent_types and not keyword_types:
        return FieldChoice(name=name, mapped=False)
    types = tuple(sorted(set(parent_types) | {f"{kind} (.keyword)" for kind in keyword_types}))
    if _fully_aggregatable(entry):
        return FieldChoice(name=name, mapped=True, types=types, exact_field=name)
    if _fully_aggregatable(keyword_entry) and _mapped_indices(entry, indices) <= _mapped_indices(
        keyword_entry, indices
    ):
        return FieldChoice(name=name, mapped=True, types=types, exact_field=f"{name}.keyword")
    return FieldChoice(
        name=name,
        mapped=True,
        types=types,
        problem=(
            f"{name} has no exact, aggregatable form in every matching index "
            f"(mapped as {', '.join(types)}{_split(entry, keyword_entry)}); "
            "map it as keyword or add a .keyword sub-field"
        ),
    )


def _split(entry: Mapping[str, Any] | None, keyword_entry: Mapping[str, Any] | None) -> str:
    """Which indices map the field which way, when that differs between indices."""
    parts = []
    for kind, caps in sorted((entry or {}).items()):
        parts.append(_in_indices("missing" if kind == "unmapped" else kind, caps))
    for kind, caps in sorted((keyword_entry or {}).items()):
        if kind != "keyword":
            parts.append(
                _in_indices("no .keyword" if kind == "unmapped" else f".keyword {kind}", caps)
            )
    listed = [part for part in parts if part]
    return f": {'; '.join(listed)}" if listed else ""


def _in_indices(label: str, caps: Mapping[str, Any]) -> str:
    # The API lists a type's indices only when the field differs between indices.
    listed = sorted(str(index) for index in caps.get("indices") or ())
    if not listed:
        return ""
    more = f" and {len(listed) - _SHOWN} more" if len(listed) > _SHOWN else ""
    return f"{label} in {', '.join(listed[:_SHOWN])}{more}"
