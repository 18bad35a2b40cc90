"""The error-code registry, as code.

One class per code in `contracts/error-codes.json`; a contract test checks that
the two agree (codes, HTTP statuses, components). The HTTP status of a code is
decided here and nowhere else.
"""

from __future__ import annotations

from typing import ClassVar, Literal

Component = Literal["api", "worker"]


class CsvProfError(Exception):
    """Base of every error that maps to a registry code."""

    code: ClassVar[str]
    http_status: ClassVar[int | None] = None
    component: ClassVar[Component]

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


# --- API: client mistakes (4xx) ------------------------------------------------------


class ApiError(CsvProfError):
    component: ClassVar[Component] = "api"
    http_status: ClassVar[int | None] = 400


class InvalidDatasetId(ApiError):
    code = "INVALID_DATASET_ID"
    http_status = 400


class MalformedRequest(ApiError):
    """Broken HTTP framing, answered by the gateway before any function runs."""

    code = "MALFORMED_REQUEST"
    http_status = 400


class InvalidQueryParameter(ApiError):
    code = "INVALID_QUERY_PARAMETER"
    http_status = 400


class InvalidHeader(ApiError):
    code = "INVALID_HEADER"
    http_status = 400


class EmptyBody(ApiError):
    code = "EMPTY_BODY"
    http_status = 400


class AccessDenied(ApiError):
    """No valid SigV4 signature: the AWS_IAM authorization of every route said no."""

    code = "ACCESS_DENIED"
    http_status = 403


class DatasetNotFound(ApiError):
    code = "DATASET_NOT_FOUND"
    http_status = 404


class ReportNotFound(ApiError):
    code = "REPORT_NOT_FOUND"
    http_status = 404


class RouteNotFound(ApiError):
    code = "ROUTE_NOT_FOUND"
    http_status = 404


class MethodNotAllowed(ApiError):
    code = "METHOD_NOT_ALLOWED"
    http_status = 405


class ProfileNotReady(ApiError):
    code = "PROFILE_NOT_READY"
    http_status = 409


class UploadNotFound(ApiError):
    code = "UPLOAD_NOT_FOUND"
    http_status = 409


class UploadAlreadyCompleted(ApiError):
    code = "UPLOAD_ALREADY_COMPLETED"
    http_status = 409


class PayloadTooLarge(ApiError):
    code = "PAYLOAD_TOO_LARGE"
    http_status = 413


class UnsupportedMediaType(ApiError):
    code = "UNSUPPORTED_MEDIA_TYPE"
    http_status = 415


class IdempotencyKeyReused(ApiError):
    """The Idempotency-Key was first used with another request: 422, as the IETF draft
    (draft-ietf-httpapi-idempotency-key-header) says."""

    code = "IDEMPOTENCY_KEY_REUSED"
    http_status = 422


class GatewayTimeout(ApiError):
    """The function did not answer within API Gateway's integration timeout (30 s), counted from
    when the request arrived, so time spent waiting for a sandbox counts. Answered by the gateway
    only; the function keeps running and its result is discarded."""

    code = "GATEWAY_TIMEOUT"
    http_status = 504


# --- Worker: why a dataset ended FAILED ------------------------------------------------


class ProfilingError(CsvProfError):
    """A reason for FAILED. Raised by the engine or the worker, recorded in meta.error.

    Most codes are data errors: properties of the file under the fixed limits (the time and
    memory limits included: the same file fails the same way again), so FAILED at once.
    A `retried` code is not the file's fault: the queue delivers the message again and, if
    every receive fails, the dataset waits in the DLQ for a redrive (docs/runtime.md)."""

    component: ClassVar[Component] = "worker"
    retried: ClassVar[bool] = False


class TimeLimitExceeded(ProfilingError):
    code = "TIME_LIMIT_EXCEEDED"


class MemoryLimitExceeded(ProfilingError):
    code = "MEMORY_LIMIT_EXCEEDED"


class FileTooLarge(ProfilingError):
    code = "FILE_TOO_LARGE"
    # Also answered by the API when a presigned upload is completed with a too-large object.
    http_status = 413


class TooManyColumns(ProfilingError):
    code = "TOO_MANY_COLUMNS"


class FieldTooLarge(ProfilingError):
    code = "FIELD_TOO_LARGE"


class EmptyFile(ProfilingError):
    code = "EMPTY_FILE"


class EncodingError(ProfilingError):
    code = "ENCODING_ERROR"


class CsvParseError(ProfilingError):
    code = "CSV_PARSE_ERROR"


class SourceMissing(ProfilingError):
    code = "SOURCE_MISSING"


class LeaseExpired(ProfilingError):
    """The reconciler found the dataset PROCESSING after its last possible delivery had ended."""

    code = "LEASE_EXPIRED"


class InternalError(ProfilingError):
    """A bug. Logged with its stack trace; the API answers it as 500."""

    code = "INTERNAL_ERROR"
    http_status = 500
    # A bug or an outage, not the file: a fixed release (a redrive) can still profile it.
    retried = True


# --- Not registry codes: control flow inside the service, never an answer on their own ----
# Adapters raise these (or their own errors); the domain or a handler decides what they mean.


class PreconditionFailed(Exception):
    """A conditional S3 write lost a race (412) or the object already exists."""


class UnknownDataset(Exception):
    """No meta for the id: the message or request refers to nothing."""


class InvalidTransition(Exception):
    """A status change the machine forbids; the caller decides whether that is a no-op."""

    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"{current} -> {target} is not allowed")
        self.current = current
        self.target = target


class MalformedMessage(Exception):
    """A body that is not a valid queue message: poison, left for the DLQ."""


def registry() -> dict[str, type[CsvProfError]]:
    """Every concrete error class by code (leaf classes only)."""
    found: dict[str, type[CsvProfError]] = {}
    pending: list[type[CsvProfError]] = [CsvProfError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if "code" in cls.__dict__:
            found[cls.code] = cls
    return found
