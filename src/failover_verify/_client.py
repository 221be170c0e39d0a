"""Connection settings, read from arguments or the environment, and the one client factory."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, ClassVar, Final, Self
from urllib.parse import urlsplit

from elasticsearch import Elasticsearch
from pydantic import ConfigDict, Field, SecretStr, model_validator

from failover_verify._exceptions import ConfigurationError, FailoverVerifyError
from failover_verify._model import Model

__all__ = ["ENVIRONMENT", "ConnectionSettings", "connect"]

ENVIRONMENT: Final[Mapping[str, str]] = {
    "url": "ES_URL",
    "cloud_id": "ES_CLOUD_ID",
    "api_key": "ES_API_KEY",
    "api_key_file": "ES_API_KEY_FILE",
    "username": "ES_USERNAME",
    "password": "ES_PASSWORD",
    "ca_certs": "ES_CA_CERTS",
}
"""Each setting's environment variable: the one declaration the library and the CLI share.

``ES_API_KEY_FILE`` names a file that holds the API key (the CLI's ``--api-key-file``).
"""


class ConnectionSettings(Model):
    """Where Elasticsearch is and how to authenticate.

    Secrets are held as :class:`pydantic.SecretStr`, so they never show in reprs, logs or
    JSON dumps. TLS certificates are verified unless ``verify_certs`` is turned off on purpose.
    Build from values with :meth:`build`, or from ``ES_*`` variables with :meth:`from_env`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    invalid_error: ClassVar[type[FailoverVerifyError]] = ConfigurationError

    url: str | None = None
    cloud_id: str | None = None
    api_key: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    ca_certs: Path | None = None
    verify_certs: bool = True
    request_timeout: Annotated[float, Field(gt=0)] = 30.0

    # Raised as ConfigurationError, not ValueError, so pydantic lets the message through as is.
    @model_validator(mode="after")
    def _check(self) -> Self:
        if (self.url is None) == (self.cloud_id is None):
            raise ConfigurationError("give exactly one of an Elasticsearch URL or a cloud id")
        if self.url is not None:
            _check_url(self.url)
        if (self.username is None) != (self.password is None):
            raise ConfigurationError("basic auth needs both a username and a password")
        if self.api_key is not None and self.username is not None:
            raise ConfigurationError("give either an API key or a username and password, not both")
        if self.ca_certs is not None and not self.ca_certs.is_file():
            raise ConfigurationError(f"the CA certificates file {self.ca_certs} does not exist")
        return self

    @classmethod
    def build(cls, **values: object) -> ConnectionSettings:
        """Validate settings, raising :class:`ConfigurationError` that names what to fix."""
        return cls.model_validate(values)

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, **overrides: object
    ) -> ConnectionSettings:
        """Settings from the ``ES_*`` variables (:data:`ENVIRONMENT`), as the CLI reads them.

        ``env`` defaults to the process environment; it is read here, when asked, never at
        import. ``overrides`` (the same names as :meth:`build`, plus ``api_key_file``) win
        over the environment; ``None`` leaves a setting to it. Empty variables count as unset.

        >>> client = fv.connect(fv.ConnectionSettings.from_env())
        """
        source = os.environ if env is None else env
        values: dict[str, object] = {}
        for name, variable in ENVIRONMENT.items():
            text = source.get(variable, "").strip()
            if text:
                values[name] = text
        for name, value in overrides.items():
            if name not in ENVIRONMENT and name not in cls.model_fields:
                raise ConfigurationError(
                    f"from_env() got an unknown setting {name}=; "
                    f"known: {', '.join(sorted({*ENVIRONMENT, *cls.model_fields}))}"
                )
            if value is not None:
                values[name] = value
        key_file = values.pop("api_key_file", None)
        if key_file is not None:
            values["api_key"] = _read_key_file(Path(str(key_file)))
        return cls.build(**values)

    def __repr__(self) -> str:
        where = self.url or f"cloud id {self.cloud_id}"
        auth = "API key" if self.api_key else "basic auth" if self.username else "no auth"
        return f"<ConnectionSettings {where} with {auth}>"


def _read_key_file(path: Path) -> str:
    try:
        key = path.read_text("utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise ConfigurationError(f"cannot read the API key file {path}: {detail}") from None
    if not key:
        raise ConfigurationError(f"the API key file {path} is empty")
    return key


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"the Elasticsearch URL {_redact_url(url)!r} is not an http(s) URL with a host; "
            "expected something like https://es.example.com:9243"
        )
    if parts.username or parts.password:
        raise ConfigurationError(
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
