"""Kibana Discover links, rison-encoded the way Kibana reads its URL state."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Final
from urllib.parse import quote

from failover_verify._window import TimeWindow

__all__ = ["DEFAULT_KIBANA_URL", "discover_url", "rison"]

DEFAULT_KIBANA_URL: Final = "https://log.gprd.gitlab.net"

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
    data_view: str,
    kql: str,
    window: TimeWindow,
    columns: Sequence[str] = (),
) -> str:
    """A Discover link showing the same records as a query, over the same absolute window."""
    global_state: dict[str, RisonValue] = {
        "filters": [],
        "refreshInterval": {"pause": True, "value": 0},
        "time": {
            "from": _instant(window.start.isoformat()),
            "to": _instant(window.end.isoformat()),
        },
    }
    app_state: dict[str, RisonValue] = {
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
