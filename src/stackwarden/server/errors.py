"""API errors: one JSON shape for every 4xx/5xx, never echoing secrets or submitted values."""

from __future__ import annotations

from typing import Any

from stackwarden.core.errors import StackWardenError


class ApiError(StackWardenError):
    """An error the API reports as `{"error": {"status", "code", "message", "problems"}}`."""

    def __init__(self, status: int, code: str, message: str,
                 problems: list[dict[str, str]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.problems = status, code, problems or []
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """The JSON body."""
        error: dict[str, Any] = {"status": self.status, "code": self.code,
                                 "message": self.message}
        if self.problems:
            error["problems"] = self.problems
        return {"error": error}


def not_found(what: str) -> ApiError:
    """404 naming what was not found."""
    return ApiError(404, "not_found", f"{what} not found")


def forbidden(message: str) -> ApiError:
    """403: authenticated, but not allowed."""
    return ApiError(403, "forbidden", message)


def unauthorized(message: str = "authentication required") -> ApiError:
    """401 with the challenge a client needs."""
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


def bad_request(message: str, code: str = "bad_request", status: int = 400,
                problems: list[dict[str, str]] | None = None) -> ApiError:
    """A 4xx about the request itself."""
    return ApiError(status, code, message, problems)
