"""Connection settings and the one place an Elasticsearch client is built."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Self
from urllib.parse import urlsplit

from elasticsearch import Elasticsearch
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from failover_verify._exceptions import ConfigurationError

__all__ = ["ConnectionSettings", "connect"]


class ConnectionSettings(BaseModel):
    """Where Elasticsearch is and how to authenticate.

    Secrets are held as :class:`pydantic.SecretStr`, so they never show in reprs, logs or
    JSON dumps. TLS certificates are verified unless ``verify_certs`` is turned off on purpose.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str | None = None
    cloud_id: str | None = None
    api_key: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    ca_certs: Path | None = None
    verify_certs: bool = True
    request_timeout: Annotated[float, Field(gt=0)] = 30.0

    @model_validator(mode="after")
    def _check(self) -> Self:
        if (self.url is None) == (self.cloud_id is None):
            raise ValueError("give exactly one of an Elasticsearch URL or a cloud id")
        if self.url is not None:
            _check_url(self.url)
        if (self.username is None) != (self.password is None):
            raise ValueError("basic auth needs both a username and a password")
        if self.api_key is not None and self.username is not None:
            raise ValueError("give either an API key or a username and password, not both")
        if self.ca_certs is not None and not self.ca_certs.is_file():
            raise ValueError(f"the CA certificates file {self.ca_certs} does not exist")
        return self

    @classmethod
    def build(cls, **values: object) -> ConnectionSettings:
        """Validate settings, raising :class:`ConfigurationError` that names what to fix."""
        try:
            return cls.model_validate(values)
        except ValueError as exc:
            raise ConfigurationError(_first_error(exc)) from None


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"the Elasticsearch URL {_redact_url(url)!r} is not an http(s) URL with a host; "
            "expected something like https://es.example.com:9243"
        )
    if parts.username or parts.password:
        raise ValueError(
            "the Elasticsearch URL must not carry credentials; "
            "use ES_API_KEY or ES_USERNAME/ES_PASSWORD instead"
        )


def _redact_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None and parts.username is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return parts._replace(netloc=f"***@{host}").geturl()


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        message = str(first.get("msg", exc))
        location = ".".join(str(part) for part in first.get("loc", ()))
        message = message.removeprefix("Value error, ")
        return f"{location}: {message}" if location else message
    return str(exc)


def connect(settings: ConnectionSettings) -> Elasticsearch:
    """Build an :class:`~elasticsearch.Elasticsearch` client from validated settings.

    Nothing is sent to the server here; the first request shows whether it can be reached.
    The client itself does not retry: :func:`failover_verify.verify` and the CLI retry
    transient failures with backoff, a bounded number of times.
    """
    options: dict[str, object] = {
        "request_timeout": settings.request_timeout,
        # Retries happen one level up, in the reader, with backoff between attempts.
        "max_retries": 0,
        "retry_on_timeout": False,
        "verify_certs": settings.verify_certs,
    }
    if not settings.verify_certs:
        options["ssl_show_warn"] = False
    if settings.ca_certs is not None:
        options["ca_certs"] = str(settings.ca_certs)
    if settings.api_key is not None:
        options["api_key"] = settings.api_key.get_secret_value()
    if settings.username is not None and settings.password is not None:
        options["basic_auth"] = (settings.username, settings.password.get_secret_value())
    try:
        if settings.cloud_id is not None:
            return Elasticsearch(cloud_id=settings.cloud_id, **options)  # type: ignore[arg-type]
        return Elasticsearch(settings.url, **options)  # type: ignore[arg-type]
    except ValueError as exc:
        raise ConfigurationError(
            f"the Elasticsearch client refused the connection settings: {exc}; "
            "check the URL or cloud id format"
        ) from exc
