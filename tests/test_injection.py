"""Values from users and from log data are matched exactly, never parsed as query syntax."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from elasticsearch import Elasticsearch

import gateway_logs as gl
from esdata import KEYWORD, index_documents, spread
from failover_verify import Policy, verify

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
HOSTILE = [
    "anthropic OR vertex-ai",
    "anth*",
    '"anthropic"',
    "anthropic\\",
    "(anthropic)",
    "model_provider:anthropic",
    "*",
    "anthropic AND NOT gitlab",
]


class TestExactMatching:
    def test_query_syntax_in_log_values(self, es_client: Elasticsearch, es_index: str) -> None:
        """Providers made of query syntax are counted as themselves; none counts as anthropic."""
        rng = random.Random(5)
        documents = [gl.completion_doc(m, "anthropic", "claude", rng) for m in spread(T0, 10, 10)]
        for number, value in enumerate(HOSTILE):
            documents += [gl.completion_doc(m, value, "x", rng) for m in spread(T0, 10, number + 1)]
        index_documents(es_client, f"{es_index}-a", documents, mappings=KEYWORD)
        report = verify(
            es_client, since=T0, until=T0 + timedelta(minutes=10), index=f"{es_index}*", min_count=1
        )
        completion = report.features["completion"]
        assert completion.by_provider["anthropic"] == 10
        assert completion.failover == 10
        for number, value in enumerate(HOSTILE):
            assert completion.by_provider[value] == number + 1

    def test_query_syntax_in_policy_values(
        self, tmp_path: Path, es_client: Elasticsearch, es_index: str
    ) -> None:
        """A policy prompt id with query syntax matches only records with exactly that id."""
        rng = random.Random(6)
        hostile_id = 'code_suggestions/generations" OR *:*'
        documents = [
            gl.registry_doc(m, "code_suggestions/generations", "2.0.0", rng)
            for m in spread(T0, 10, 7)
        ]
        documents += [gl.registry_doc(m, hostile_id, "2.0.0", rng) for m in spread(T0, 10, 3)]
        index_documents(es_client, f"{es_index}-a", documents, mappings=KEYWORD)
        text = (
            Path(__file__).resolve().parent.parent / "src/failover_verify/data/policy.toml"
        ).read_text()
        policy_file = tmp_path / "policy.toml"
        policy_file.write_text(
            text.replace(
                'prompt_ids = ["code_suggestions/generations"]',
                "prompt_ids = ['code_suggestions/generations\" OR *:*']",
            )
        )
        policy = Policy.from_file(policy_file)
        report = verify(
            es_client,
            since=T0,
            until=T0 + timedelta(minutes=10),
            index=f"{es_index}*",
            policy=policy,
            min_count=1,
            features=["generation"],
        )
        generation = report.features["generation"]
        assert generation.total == 3
        assert '\\"' in generation.kql  # quoted and escaped in the Kibana query too
