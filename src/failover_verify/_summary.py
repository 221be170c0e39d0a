"""From grouped counts to a feature report: classification, tallies, evidence, verdict.

Both ways of reading records end here: Elasticsearch aggregation buckets (the normal way)
and records read one by one from an exported file. Each yields :class:`Group` values, so
both apply exactly the same policy and verdict rules.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from failover_verify import _fields as f
from failover_verify._policy import Feature, Policy
from failover_verify._queries import EVIDENCE_FIELDS
from failover_verify._registry import PromptRegistry, Resolution
from failover_verify._report import (
    NONE_KEY,
    UNRESOLVED_KEY,
    Breakdown,
    Evidence,
    FeatureReport,
    RoleName,
    RoleSpan,
    decide,
    earliest,
    latest,
    share,
)

__all__ = ["Classification", "Group", "Tally", "classify_values", "summarize"]

SAMPLES_PER_ROLE = 3


@dataclass
class Group:
    """Records of one feature that share their grouped field values."""

    values: dict[str, str | None]
    count: int
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    sample: Mapping[str, Any] | None = None
    sample_time: datetime | None = None


@dataclass
class Tally:
    """What summarizing needs besides the groups: totals and the state of the request."""

    total: int
    complete: bool = True
    failed_indices: list[str] = field(default_factory=list)
    blockers: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Classification:
    """How the policy sees one combination of grouped field values."""

    role: RoleName
    rule: str
    provider: str
    model: str
    resolution: Resolution | None


@dataclass(frozen=True)
class _Classified:
    group: Group
    found: Classification


def classify_values(
    feature: Feature, values: Mapping[str, str | None], policy: Policy, registry: PromptRegistry
) -> Classification:
    resolution = None
    if feature == "completion":
        facts = {
            "model_provider": values.get("model_provider"),
            "model_name": values.get("model_name"),
        }
        provider = facts["model_provider"] or NONE_KEY
        model = facts["model_name"] or NONE_KEY
    else:
        resolution = registry.resolve(
            values.get("prompt_id"),
            values.get("prompt_version"),
            model_class_provider=values.get("model_class_provider"),
            model_identifier=values.get("model_identifier"),
        )
        facts = {
            "provider": resolution.provider,
            "model": resolution.model,
            "prompt_version": values.get("prompt_version"),
            "resolved_version": resolution.resolved_version,
        }
        provider = resolution.provider or UNRESOLVED_KEY
        model = resolution.model or UNRESOLVED_KEY
    rule = policy.classify(feature, facts)
    if rule is None:
        why = "no policy rule matches"
        if resolution is not None and resolution.status != "resolved":
            why = f"{why}; prompt version not resolved: {resolution.detail}"
        return Classification("unclassified", why, provider, model, resolution)
    return Classification(rule.role, rule.note or rule.describe(), provider, model, resolution)


def _classify(
    feature: Feature, group: Group, policy: Policy, registry: PromptRegistry
) -> _Classified:
    return _Classified(group, classify_values(feature, group.values, policy, registry))


def summarize(
    feature: Feature,
    groups: Iterable[Group],
    tally: Tally,
    *,
    policy: Policy,
    registry: PromptRegistry,
    threshold: float,
    min_count: int,
    query: dict[str, Any] | None,
    kql: str,
    kibana_url: str,
) -> FeatureReport:
    classified = [_classify(feature, group, policy, registry) for group in groups]
    counts: Counter[RoleName] = Counter()
    by_provider: Counter[str] = Counter()
    by_model: Counter[str] = Counter()
    by_version: Counter[str] = Counter()
    spans: dict[RoleName, RoleSpan] = {}
    for item in classified:
        group = item.group
        counts[item.found.role] += group.count
        by_provider[item.found.provider] += group.count
        by_model[item.found.model] += group.count
        if feature == "generation":
            by_version[group.values.get("prompt_version") or NONE_KEY] += group.count
        span = spans.get(item.found.role, RoleSpan())
        spans[item.found.role] = RoleSpan(
            first=earliest(span.first, group.first_seen), last=latest(span.last, group.last_seen)
        )
    notes = list(tally.notes)
    grouped = sum(counts.values())
    if grouped < tally.total:
        # Buckets are capped; records past the cap cannot be classified, so say so.
        missing = tally.total - grouped
        counts["unclassified"] += missing
        notes.append(f"{missing} records were not broken down (too many distinct field values)")
    verdict, reason = decide(
        total=tally.total,
        primary=counts["primary"],
        failover=counts["failover"],
        unclassified=counts["unclassified"],
        complete=tally.complete,
        blockers=tally.blockers,
        threshold=threshold,
        min_count=min_count,
    )
    ordered = sorted(classified, key=lambda item: (-item.group.count, str(item.group.values)))
    return FeatureReport(
        feature=feature,
        verdict=verdict,
        reason=reason,
        total=tally.total,
        primary=counts["primary"],
        failover=counts["failover"],
        unclassified=counts["unclassified"],
        failover_share=share(counts["failover"], tally.total),
        primary_share=share(counts["primary"], tally.total),
        by_provider=dict(by_provider.most_common()),
        by_model=dict(by_model.most_common()),
        by_prompt_version=dict(by_version.most_common()),
        seen=spans,
        complete=tally.complete,
        failed_indices=tally.failed_indices,
        problems=tally.blockers,
        notes=notes,
        breakdown=[
            Breakdown(
                values=item.group.values,
                count=item.group.count,
                role=item.found.role,
                rule=item.found.rule,
                first_seen=item.group.first_seen,
                last_seen=item.group.last_seen,
                resolution=item.found.resolution,
            )
            for item in ordered
        ],
        samples=_samples(ordered),
        resolutions=_distinct_resolutions(ordered),
        query=query,
        kql=kql,
        kibana_url=kibana_url,
    )


def _samples(ordered: list[_Classified]) -> list[Evidence]:
    taken: Counter[RoleName] = Counter()
    samples = []
    for item in ordered:
        hit = item.group.sample
        if hit is None or taken[item.found.role] >= SAMPLES_PER_ROLE:
            continue
        taken[item.found.role] += 1
        samples.append(_evidence(hit, item.found.role, item.group.sample_time))
    return samples


def _evidence(hit: Mapping[str, Any], role: RoleName, time: datetime | None) -> Evidence:
    try:
        flat = f.flatten_hit(hit)
    except f.FieldConflictError:
        flat = {}
    fields: dict[str, str | int | float | bool | None] = {}
    for path in EVIDENCE_FIELDS:
        if path in flat and path not in f.PRIVATE_FIELDS:
            value = flat[path]
            fields[path] = (
                value
                if isinstance(value, str | int | float | bool) or value is None
                else str(value)
            )
    index, doc_id = hit.get("_index"), hit.get("_id")
    return Evidence(
        index=index if isinstance(index, str) else None,
        id=doc_id if isinstance(doc_id, str) else None,
        time=time,
        role=role,
        fields=fields,
    )


def _distinct_resolutions(ordered: list[_Classified]) -> list[Resolution]:
    seen: dict[tuple[str | None, ...], Resolution] = {}
    for item in ordered:
        resolution = item.found.resolution
        if resolution is None:
            continue
        key = (
            resolution.prompt_id,
            resolution.requested_version,
            resolution.provider,
            resolution.model,
            resolution.source,
        )
        seen.setdefault(key, resolution)
    return list(seen.values())
