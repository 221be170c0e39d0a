"""The exceptions failover-verify raises.

Every error the package raises derives from one root, so callers can catch it in one place::

    FailoverVerifyError
     ├── UsageError                  a bad argument: fix the call and retry
     │    └── WindowError            a time window that is empty, inverted or unparseable
     ├── ConfigurationError          settings, files or credentials that cannot be used
     │    ├── PolicyError            a classification policy file that is wrong
     │    └── DefinitionsError       a prompt definitions folder that cannot be read
     ├── SourceError                 an NDJSON record file that cannot be read
     ├── GitLabError                 GitLab could not say how the incident flags are set
     └── ElasticsearchError          Elasticsearch could not answer the question
          ├── ConnectionFailed       unreachable, timed out, TLS or authentication failure
          │    └── AccessDenied      the credentials lack a privilege the request needs (403)
          └── RequestRejected        the server refused the request (bad query, missing index)

Errors from the Elasticsearch client and other dependencies are re-raised as one of these,
with the original kept as ``__cause__`` (except where it could carry a credential: network
errors from Elasticsearch and GitLab). Messages never contain secrets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "AccessDenied",
    "ConfigurationError",
    "ConnectionFailed",
    "DefinitionsError",
    "ElasticsearchError",
    "FailoverVerifyError",
    "GitLabError",
    "PolicyError",
    "RequestRejected",
    "SourceError",
    "UsageError",
    "WindowError",
]


class FailoverVerifyError(Exception):
    """The root of every error failover-verify raises.

    ``details`` holds structured detail where there is some (for a model built from bad
    values, every problem found); the message already says the first.
    """

    def __init__(self, message: str, *, details: Sequence[Mapping[str, Any]] = ()) -> None:
        super().__init__(message)
        self.details = tuple(details)


class UsageError(FailoverVerifyError):
    """An argument is wrong; the message says which and what is accepted."""


class WindowError(UsageError):
    """A time window is empty, inverted or cannot be parsed."""


class ConfigurationError(FailoverVerifyError):
    """Settings, a file or credentials cannot be used as given."""


class PolicyError(ConfigurationError):
    """A classification policy file is malformed or names unknown keys."""


class DefinitionsError(ConfigurationError):
    """A prompt definitions folder is missing, unreadable or not a definitions folder."""


class SourceError(FailoverVerifyError):
    """A file of exported records cannot be read at all."""


class GitLabError(FailoverVerifyError):
    """GitLab is unreachable, refused the token, or gave no usable answer about the flags."""


class ElasticsearchError(FailoverVerifyError):
    """Elasticsearch could not answer the question that was asked."""


class ConnectionFailed(ElasticsearchError):
    """Elasticsearch is unreachable, timed out, or refused the credentials."""


class AccessDenied(ConnectionFailed):
    """The credentials work but lack a privilege the request needs (HTTP 403)."""


class RequestRejected(ElasticsearchError):
    """Elasticsearch refused a request (for example a malformed query or a missing index)."""
