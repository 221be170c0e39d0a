"""Verify from Elasticsearch logs whether GitLab Code Suggestions traffic runs on its primary or
failover LLM provider.

>>> import failover_verify as fv
>>> client = fv.connect(fv.ConnectionSettings.build(url="https://es.example.com:9243", api_key=...))
>>> report = fv.verify(client, since="15m")
>>> report.features["completion"].verdict
'failover'
"""

from failover_verify._client import ConnectionSettings, connect
from failover_verify._exceptions import (
    ConfigurationError,
    ConnectionFailed,
    DefinitionsError,
    ElasticsearchError,
    FailoverVerifyError,
    GitLabError,
    PolicyError,
    RequestRejected,
    SourceError,
    UsageError,
    WindowError,
)
from failover_verify._expectation import Expectation
from failover_verify._flags import INCIDENT_FLAGS, FlagReading, FlagState
from failover_verify._gitlab import read_flags
from failover_verify._history import HISTORY_MAPPING, Recorded, record_report
from failover_verify._policy import Feature, Policy, Role, Rule
from failover_verify._prometheus import metrics_text, write_metrics
from failover_verify._queries import DEFAULT_INDEX
from failover_verify._records import (
    CompletionRecord,
    ParseProblem,
    Record,
    RegistryRecord,
    parse_hit,
)
from failover_verify._registry import PromptRegistry, Resolution
from failover_verify._report import (
    Breakdown,
    Evidence,
    FeatureReport,
    ParseSummary,
    Report,
    RoleSpan,
    Verdict,
)
from failover_verify._source import read_ndjson
from failover_verify._timeline import Switch, Timeline, TimelinePoint
from failover_verify._verify import Verifier, timeline, timeline_hits, verify, verify_hits
from failover_verify._window import TimeWindow, parse_window

__all__ = [
    "DEFAULT_INDEX",
    "HISTORY_MAPPING",
    "INCIDENT_FLAGS",
    "Breakdown",
    "CompletionRecord",
    "ConfigurationError",
    "ConnectionFailed",
    "ConnectionSettings",
    "DefinitionsError",
    "ElasticsearchError",
    "Evidence",
    "Expectation",
    "FailoverVerifyError",
    "Feature",
    "FeatureReport",
    "FlagReading",
    "FlagState",
    "GitLabError",
    "ParseProblem",
    "ParseSummary",
    "Policy",
    "PolicyError",
    "PromptRegistry",
    "Record",
    "Recorded",
    "RegistryRecord",
    "Report",
    "RequestRejected",
    "Resolution",
    "Role",
    "RoleSpan",
    "Rule",
    "SourceError",
    "Switch",
    "TimeWindow",
    "Timeline",
    "TimelinePoint",
    "UsageError",
    "Verdict",
    "Verifier",
    "WindowError",
    "connect",
    "metrics_text",
    "parse_hit",
    "parse_window",
    "read_flags",
    "read_ndjson",
    "record_report",
    "timeline",
    "timeline_hits",
    "verify",
    "verify_hits",
    "write_metrics",
]
