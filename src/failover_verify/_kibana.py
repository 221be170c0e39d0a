"""Kibana Discover links, rison-encoded the way Kibana reads its URL state.

A Discover link opens a data view by its id (Kibana cannot open one by its index pattern).
The ids of GitLab's own data views are known here; for any other index, without a data view id
given, the link opens Discover in ES|QL mode with the equivalent ``FROM <index> | WHERE ...``
query, which needs no data view at all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote

from failover_verify._window import TimeWindow

__all__ = ["DEFAULT_KIBANA_URL", "KNOWN_DATA_VIEWS", "discover_url", "link_target", "rison"]

DEFAULT_KIBANA_URL: Final = "https://log.gprd.gitlab.net"


@dataclass(frozen=True)
class DataView:
    """A Kibana data view whose id is known, and the index entries whose records it shows."""

    kibana_url: str
    id: str
    pattern: str
    covers: frozenset[str]
    """Index entries the data view shows every record of (its pattern, the rollover alias)."""
    spelled_otherwise: frozenset[str] = frozenset()
    """Other spellings that may sit beside a covered entry in an index list and match none of
    today's indices, so the data view still shows what the list matches."""


KNOWN_DATA_VIEWS: Final = (
    # GitLab's runbooks, libsonnet/elasticlinkbuilder/index_catalog.libsonnet ("mlops"). The
    # pattern matches the numbered rollover indices behind the alias pubsub-mlops-inf-gprd;
    # the gprod spelling comes from an older runbook copy and matches no current index.
    DataView(
        kibana_url=DEFAULT_KIBANA_URL,
        id="8cd9c4c0-f0a7-11ed-a017-0d32180b1390",
        pattern="pubsub-mlops-inf-gprd-*",
        covers=frozenset({"pubsub-mlops-inf-gprd-*", "pubsub-mlops-inf-gprd"}),
        spelled_otherwise=frozenset({"pubsub-mlops-inf-gprod-*"}),
    ),
)


@dataclass(frozen=True)
class LinkTarget:
    """What a Discover link opens: a data view by id, or ES|QL mode (``data_view`` None)."""

    data_view: str | None
    note: str


def link_target(*, kibana_url: str, index: str, data_view: str | None) -> LinkTarget:
    """The data view for links to ``index`` on ``kibana_url``: the one given, else a known one
    that shows the index's records, else none (the links use ES|QL)."""
    if data_view:
        return LinkTarget(data_view, f"the Kibana links open the data view {data_view}")
    entries = {entry.strip() for entry in index.split(",") if entry.strip()}
    base = kibana_url.rstrip("/")
    for known in KNOWN_DATA_VIEWS:
        if known.kibana_url != base or not entries & known.covers:
            continue
        if entries <= known.covers | known.spelled_otherwise:
            others = sorted(entries & known.spelled_otherwise)
            also = (
                f"; {', '.join(others)} is an older spelling that no current index has"
                if others
                else ""
            )
            return LinkTarget(
                known.id,
                f"the Kibana links open GitLab's data view for {known.pattern} ({known.id}), "
                f"which covers the current indices{also}",
            )
    return LinkTarget(
        None,
        f"no Kibana data view is known for {index} on {base}: the links open Discover in "
        'ES|QL mode with the same query; give data_view="<id>" for a data view link',
    )


RisonValue = None | bool | int | float | str | Sequence["RisonValue"] | Mapping[str, "RisonValue"]

# Rison leaves a string bare when it cannot be mistaken for another token.
_BARE = re.compile(r"^[^-0-9 '!:(),*@$][^ '!:(),*@$]*$")
# Kibana's own links keep these unescaped inside the hash; everything else is percent-encoded.
_URL_SAFE = "!'(),:*$@-._~/"


def rison(value: RisonValue) -> str:
    """Encode a value as rison (https://github.com/Nanonid/rison)."""
    if value is None:
        return "!n"
    if value is True:
        return "!t"
    if value is False:
        return "!f"
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, Mapping):
        items = (f"{_string(str(key))}:{rison(item)}" for key, item in sorted(value.items()))
        return f"({','.join(items)})"
    return f"!({','.join(rison(item) for item in value)})"


def _number(value: float) -> str:
    if isinstance(value, float) and not value.is_integer():
        return repr(value).replace("+", "")
    return str(int(value))


def _string(value: str) -> str:
    if _BARE.match(value):
        return value
    return "'" + value.replace("!", "!!").replace("'", "!'") + "'"


def discover_url(
    *,
    kibana_url: str,
    data_view: str | None,
    kql: str,
    window: TimeWindow,
    columns: Sequence[str] = (),
    esql: str = "",
) -> str:
    """A Discover link showing the same records as a query, over the same absolute window.

    With a data view id the link holds the KQL query; without one (``data_view=None``) it opens
    ES|QL mode with ``esql``, a query that names its indices itself.
    """
    global_state: dict[str, RisonValue] = {
        "filters": [],
        "refreshInterval": {"pause": True, "value": 0},
        "time": {
            "from": _instant(window.start.isoformat()),
            "to": _instant(window.end.isoformat()),
        },
    }
    app_state: dict[str, RisonValue]
    if data_view is None:
        app_state = {
            "columns": list(columns),
            "dataSource": {"type": "esql"},
            "filters": [],
            "query": {"esql": esql},
        }
    else:
        app_state = {
            "columns": list(columns),
            "filters": [],
            "index": data_view,
            "query": {"language": "kuery", "query": kql},
            "sort": [["@timestamp", "desc"]],
        }
    base = kibana_url.rstrip("/")
    return (
        f"{base}/app/discover#/?_g={quote(rison(global_state), safe=_URL_SAFE)}"
        f"&_a={quote(rison(app_state), safe=_URL_SAFE)}"
    )


def _instant(iso: str) -> str:
    return iso.replace("+00:00", "Z")
