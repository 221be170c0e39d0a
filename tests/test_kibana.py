"""Kibana Discover links: rison, the data view they open, and ES|QL links without one."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

import prison
import pytest

from failover_verify._kibana import KNOWN_DATA_VIEWS, discover_url, link_target, rison
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

    def test_esql_mode_without_a_data_view(self) -> None:
        """Without a data view id the link opens ES|QL mode with the query, and no index."""
        window = parse_window("2026-01-21T10:00Z", "2026-01-21T11:00Z")
        query = 'FROM logs-* | WHERE a == "it\'s" | SORT @timestamp DESC'
        url = discover_url(
            kibana_url="https://k", data_view=None, kql="a: x", esql=query, window=window
        )
        state = _decode(url)
        assert state["_a"] == {
            "columns": [],
            "dataSource": {"type": "esql"},
            "filters": [],
            "query": {"esql": query},
        }
        assert state["_g"]["time"] == {"from": "2026-01-21T10:00:00Z", "to": "2026-01-21T11:00:00Z"}


GPRD_VIEW = "8cd9c4c0-f0a7-11ed-a017-0d32180b1390"
GITLAB = "https://log.gprd.gitlab.net"


class TestLinkTarget:
    @pytest.mark.parametrize(
        "index",
        [
            "pubsub-mlops-inf-gprd-*,pubsub-mlops-inf-gprod-*",
            "pubsub-mlops-inf-gprd-*",
            "pubsub-mlops-inf-gprd",
            " pubsub-mlops-inf-gprod-*, pubsub-mlops-inf-gprd-* ",
        ],
    )
    def test_gitlab_data_view_for_the_gprd_indices(self, index: str) -> None:
        """The gprd pattern, its rollover alias and the two-spelling default open GitLab's
        data view on log.gprd.gitlab.net."""
        target = link_target(kibana_url=GITLAB + "/", index=index, data_view=None)
        assert target.data_view == GPRD_VIEW
        assert target.note.startswith(
            f"the Kibana links open GitLab's data view for pubsub-mlops-inf-gprd-* ({GPRD_VIEW}), "
            "which covers the current indices"
        )

    def test_default_index_says_what_the_gprod_spelling_is(self) -> None:
        """For the two-spelling default, the note says the gprod spelling has no current index."""
        target = link_target(
            kibana_url=GITLAB,
            index="pubsub-mlops-inf-gprd-*,pubsub-mlops-inf-gprod-*",
            data_view=None,
        )
        assert target.note.endswith(
            "; pubsub-mlops-inf-gprod-* is an older spelling that no current index has"
        )

    @pytest.mark.parametrize(
        ("kibana_url", "index"),
        [
            (GITLAB, "pubsub-mlops-inf-gprod-*"),
            (GITLAB, "pubsub-mlops-inf-gprd-*,logs-*"),
            (GITLAB, "logs-*"),
            ("https://kibana.example", "pubsub-mlops-inf-gprd-*"),
        ],
    )
    def test_no_known_data_view_means_esql(self, kibana_url: str, index: str) -> None:
        """An index the known data view does not wholly show, or another Kibana, gets ES|QL."""
        target = link_target(kibana_url=kibana_url, index=index, data_view=None)
        assert target.data_view is None
        assert target.note == (
            f"no Kibana data view is known for {index} on {kibana_url}: the links open "
            'Discover in ES|QL mode with the same query; give data_view="<id>" for a data '
            "view link"
        )

    def test_given_data_view_wins(self) -> None:
        """A data view id given is used whatever the index."""
        assert link_target(kibana_url=GITLAB, index="logs-*", data_view="abc").data_view == "abc"

    def test_known_ids_come_from_gitlab(self) -> None:
        """The one known data view is GitLab's mlops view on log.gprd.gitlab.net."""
        assert [(view.kibana_url, view.pattern, view.id) for view in KNOWN_DATA_VIEWS] == [
            (GITLAB, "pubsub-mlops-inf-gprd-*", GPRD_VIEW)
        ]
