"""The base of the package's public models: frozen, and failing with the package's own errors.

Pydantic raises :class:`pydantic.ValidationError` when a model is built from bad values. A
caller of failover-verify should only ever need to catch :class:`FailoverVerifyError`, so every
public model re-raises validation failures as its own error class (``UsageError`` unless the
model says otherwise), with the first problem as the message and every problem in
``details``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationError,
    ValidatorFunctionWrapHandler,
    model_validator,
)

from failover_verify._exceptions import FailoverVerifyError, UsageError

__all__ = ["Model"]


def first_problem(exc: ValidationError) -> str:
    """The first validation problem as one line: where, then what."""
    first = exc.errors(include_url=False, include_input=False)[0]
    message = str(first.get("msg", exc)).removeprefix("Value error, ")
    location = ".".join(str(part) for part in first.get("loc", ()))
    more = exc.error_count() - 1
    suffix = f" (and {more} more)" if more else ""
    return f"{location}: {message}{suffix}" if location else f"{message}{suffix}"


class Model(BaseModel):
    """A frozen pydantic model whose validation errors are ``invalid_error``."""

    model_config = ConfigDict(frozen=True)

    invalid_error: ClassVar[type[FailoverVerifyError]] = UsageError

    @model_validator(mode="wrap")
    @classmethod
    def _own_errors(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(data)
        except ValidationError as exc:
            # Not a ValueError, so pydantic lets it through as it is.
            raise cls.invalid_error(
                f"{cls.__name__}: {first_problem(exc)}",
                details=tuple(exc.errors(include_url=False, include_input=False)),
            ) from None
