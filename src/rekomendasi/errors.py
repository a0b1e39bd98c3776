"""The product's error hierarchy: one base error that carries its HTTP status.

Messages say what was received and what to do about it, so the CLI and the API can show them as they are.
"""

from __future__ import annotations


class RekomendasiError(Exception):
    """Base error of the product.

    Attributes:
        status_code: HTTP status the API answers with when this error reaches it.
    """

    status_code: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DataContractError(RekomendasiError):
    """A data directory breaks the data contract at file level; nothing was loaded or written."""

    status_code = 422


class QuarantineThresholdError(DataContractError):
    """Too large a share of one or more tables failed row-level checks."""


class ConfigError(RekomendasiError):
    """A configuration file or setting is invalid."""

    status_code = 500


class EmployeeNotFound(RekomendasiError):
    """The requested employee is not in the snapshot."""

    status_code = 404


class ModelNotReady(RekomendasiError):
    """No champion model or no snapshot exists yet."""

    status_code = 503


class Unauthorized(RekomendasiError):
    """No API key, or one that is unknown or revoked (HTTP 401)."""

    status_code = 401


class Forbidden(RekomendasiError):
    """The key's role or agencies do not cover what was asked (HTTP 403). The message never says
    whether the employee exists."""

    status_code = 403


class PayloadTooLarge(RekomendasiError):
    """A bulk request over the server's limit (HTTP 413)."""

    status_code = 413


class BadRequest(RekomendasiError):
    """A request the schema cannot catch: unknown query parameters, unknown catalogue ids (HTTP 422)."""

    status_code = 422


class NotFound(RekomendasiError):
    """An agency, unit or plan the request names does not exist (HTTP 404)."""

    status_code = 404


class PlanInputError(BadRequest):
    """A plan request that cannot be planned as given: a budget of zero or less, a unit outside the agency,
    an unknown coverage group (HTTP 422)."""


class EstimatesMissing(RekomendasiError):
    """The serving model carries no course-effectiveness estimates: it was trained before they existed
    (HTTP 409: the entry exists, the model in service cannot answer for it)."""

    status_code = 409
