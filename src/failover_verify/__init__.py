"""Verify from Elasticsearch logs whether GitLab Code Suggestions traffic runs on its primary or
failover LLM provider.

>>> import failover_verify as fv
>>> client = fv.connect(fv.ConnectionSettings.from_env())
>>> report = fv.verify(client, since="15m")
>>> report.features["completion"].verdict
'failover'
"""

import contextlib
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

from failover_verify._client import ConnectionSettings, connect
from failover_verify._exceptions import (
    AccessDenied,
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
from failover_verify._export import export_hits
from failover_verify._flags import INCIDENT_FLAGS, FlagReading, FlagState
from failover_verify._gitlab import read_flags
from failover_verify._history import HISTORY_MAPPING, Recorded, record_report
from failover_verify._ingest import IngestDelay
from failover_verify._offline import timeline_hits, verify_hits
from failover_verify._policy import Policy, Rule
from failover_verify._prometheus import metrics_text, write_metrics
from failover_verify._queries import DEFAULT_INDEX
from failover_verify._records import (
    CompletionRecord,
    ParseProblem,
    Record,
    RegistryRecord,
    ServedRecord,
    parse_hit,
    parse_hit_json,
)
from failover_verify._registry import PromptRegistry, Resolution
from failover_verify._report import (
    Breakdown,
    Evidence,
    FeatureReport,
    ParseSummary,
    Report,
    RoleSpan,
)
from failover_verify._signals import SIGNALS, Signal
from failover_verify._source import RecordsFile, read_ndjson
from failover_verify._timeline import Switch, Timeline, TimelinePoint
from failover_verify._types import Feature, Role, Verdict
from failover_verify._verify import Verifier, timeline, verify
from failover_verify._window import TimeWindow, parse_window

try:
    __version__ = _version("failover-verify")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0+unknown"

__all__ = [
    "DEFAULT_INDEX",
    "HISTORY_MAPPING",
    "INCIDENT_FLAGS",
    "SIGNALS",
    "AccessDenied",
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
    "IngestDelay",
    "ParseProblem",
    "ParseSummary",
    "Policy",
    "PolicyError",
    "PromptRegistry",
    "Record",
    "Recorded",
    "RecordsFile",
    "RegistryRecord",
    "Report",
    "RequestRejected",
    "Resolution",
    "Role",
    "RoleSpan",
    "Rule",
    "ServedRecord",
    "Signal",
    "SourceError",
    "Switch",
    "TimeWindow",
    "Timeline",
    "TimelinePoint",
    "UsageError",
    "Verdict",
    "Verifier",
    "WindowError",
    "__version__",
    "connect",
    "export_hits",
    "metrics_text",
    "parse_hit",
    "parse_hit_json",
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

# Tracebacks and reprs show the public home of each name, not the private module it lives in.
for _name in __all__:
    _value = globals()[_name]
    if getattr(_value, "__module__", "").startswith("failover_verify._"):
        with contextlib.suppress(AttributeError, TypeError):
            _value.__module__ = __name__
del _name, _value
