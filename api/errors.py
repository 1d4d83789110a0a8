"""Errors as OpenAI's SDKs expect them: `{"error": {"message", "type", "param", "code"}}`.

Each refusal is one ApiError with its status; `error_response` writes the envelope (and
Retry-After for a 429), so every /v1 answer that is not a success reads the same.
"""

import math

from django.http import JsonResponse

TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    502: "upstream_error",
    503: "service_unavailable",
    504: "timeout_error",
}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.retry_after = retry_after


def bad_param(param: str, message: str, *, code: str = "invalid_value") -> ApiError:
    return ApiError(400, message, param=param, code=code)


def error_response(error: ApiError) -> JsonResponse:
    body = {
        "error": {
            "message": error.message,
            "type": TYPES.get(error.status, "api_error"),
            "param": error.param,
            "code": error.code,
        }
    }
    response = JsonResponse(body, status=error.status)
    if error.retry_after is not None:
        response["Retry-After"] = str(max(1, math.ceil(error.retry_after)))
    return response
