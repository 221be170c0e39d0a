"""Verify from Elasticsearch logs whether Code Suggestions traffic runs on its primary or
failover LLM provider."""

from failover_verify._client import ConnectionSettings, connect
from failover_verify._exceptions import (
    ConfigurationError,
    ConnectionFailed,
    DefinitionsError,
    ElasticsearchError,
    FailoverVerifyError,
    PolicyError,
    RequestRejected,
    SourceError,
    UsageError,
    WindowError,
)

__all__ = [
    "ConfigurationError",
    "ConnectionFailed",
    "ConnectionSettings",
    "DefinitionsError",
    "ElasticsearchError",
    "FailoverVerifyError",
    "PolicyError",
    "RequestRejected",
    "SourceError",
    "UsageError",
    "WindowError",
    "connect",
]
