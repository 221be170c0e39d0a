from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

import prison
import pytest

from failover_verify._kibana import discover_url, rison
from failover_verify._window import parse_window


def _decode(url: str) -> dict[str, Any]:
    fragment = urlsplit(url).fragment
    assert fragment.startswith("/?")
    state = {}
    for part in fragment[2:].split("&"):
        key, value = part.split("=", 1)
        state[key] = prison.loads(unquote(value))
    return state


class TestRison:
    @pytest.mark.parametrize(
        ("value", "encoded"),
        [
            (None, "!n"),
            (True, "!t"),
            (False, "!f"),
            (0, "0"),
            (-3, "-3"),
            (1.5, "1.5"),
            ("abc", "abc"),
            ("", "''"),
            ("a b", "'a b'"),
            ("it's!", "'it!'s!!'"),
            ("-x", "'-x'"),
            ("2026", "'2026'"),
            ([], "!()"),
            ([1, "a"], "!(1,a)"),
            ({"b": 1, "a": [True]}, "(a:!(!t),b:1)"),
            ({"k:1": "v"}, "('k:1':v)"),
        ],
    )
    def test_encoding(self, value: Any, encoded: str) -> None:
        """Values encode to the rison that Kibana's decoder expects."""
        assert rison(value) == encoded

    @pytest.mark.parametrize(
        "value",
        [
            {"query": {"language": "kuery", "query": 'a: "b" and c: (d or e/*)'}},
            {"s": "!!'''()::,,@@$$**  ", "n": None, "l": [[], {}, -1.25]},
            {"unicode": "défaillance ✓ 故障"},
        ],
    )
    def test_round_trip_with_independent_decoder(self, value: Any) -> None:
        """An independent rison decoder reads back exactly what was encoded."""
        assert prison.loads(rison(value)) == value


class TestDiscoverUrl:
    def test_decodes_to_the_same_query_and_window(self) -> None:
        """The link holds the KQL, the data view and the absolute window."""
        window = parse_window("2026-01-21T10:00Z", "2026-01-21T11:00Z")
        query = 'json.jsonPayload.message: "code completion input:" and x: ("a&b#c" or d/*)'
        url = discover_url(
            kibana_url="https://log.gprd.gitlab.net/",
            data_view="pubsub-mlops-inf-gprod-*",
            kql=query,
            window=window,
            columns=["json.jsonPayload.model_provider"],
        )
        assert url.startswith("https://log.gprd.gitlab.net/app/discover#/?_g=")
        state = _decode(url)
        assert state["_g"]["time"] == {"from": "2026-01-21T10:00:00Z", "to": "2026-01-21T11:00:00Z"}
        assert state["_a"]["query"] == {"language": "kuery", "query": query}
        assert state["_a"]["index"] == "pubsub-mlops-inf-gprod-*"
        assert state["_a"]["columns"] == ["json.jsonPayload.model_provider"]

    def test_no_raw_separators_in_values(self) -> None:
        """Characters that would end the hash parameter are percent-encoded."""
        window = parse_window("2026-01-21T10:00Z", "2026-01-21T11:00Z")
        url = discover_url(kibana_url="https://k", data_view="v", kql='a: "x&y#z"', window=window)
        fragment = urlsplit(url).fragment
        assert fragment.count("&") == 1
        assert "#" not in fragment
