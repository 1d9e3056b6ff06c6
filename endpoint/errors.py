"""Errors as handlers that return the right status with a readable message, never a traceback."""

from __future__ import annotations

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException


class ProtocolError(Exception):
    """A request the server answers with ``status`` and a one-paragraph explanation."""

    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.retry_after = status, message, retry_after


def _plain(status: int, message: str) -> Response:
    response = Response(message.rstrip("\n") + "\n", status=status,
                        content_type="text/plain; charset=utf-8")
    return response


def _store_errors() -> dict[type, tuple[int, str, int | None]]:
    """What each store or guard error is for the client: status, message prefix, Retry-After."""
    from endpoint import dataset, guard, store

    return {
        dataset.DatasetError: (400, "", None),
        store.QueryError: (400, "malformed query: ", None),
        guard.Refused: (403, "", None),
        guard.TooDeep: (400, "", None),
        store.QueryTooLarge: (503, "", None),  # memory or size: the same query stops again
        store.QueryRefused: (403, "", None),
        store.QueryFailed: (502, "", None),
        store.QueryTimeout: (503, "", 5),
        store.Overloaded: (503, "", 5),
    }


def register(app: Flask) -> None:
    @app.errorhandler(ProtocolError)
    def protocol_error(err: ProtocolError) -> Response:
        response = _plain(err.status, err.message)
        if err.retry_after:
            response.headers["Retry-After"] = str(err.retry_after)
        return response

    for kind, (status, prefix, retry_after) in _store_errors().items():
        def handler(err: Exception, status=status, prefix=prefix, retry_after=retry_after):
            return protocol_error(ProtocolError(status, prefix + str(err), retry_after))
        app.register_error_handler(kind, handler)

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException) -> Response:
        messages = {
            404: f"no resource at {request.path}",
            405: f"{request.method} is not allowed here; allowed: "
                 + ", ".join(sorted(getattr(err, "valid_methods", None) or [])),
            413: "the request is too large for this server "
                 f"(at most {app.config.get('MAX_CONTENT_LENGTH')} bytes)",
        }
        response = _plain(err.code or 500, messages.get(err.code, err.description or err.name))
        if err.code == 405 and getattr(err, "valid_methods", None):
            response.headers["Allow"] = ", ".join(err.valid_methods)
        return response

    @app.errorhandler(Exception)
    def internal_error(err: Exception) -> Response:
        app.logger.exception("unexpected error on %s %s", request.method, request.path)
        return _plain(500, "internal server error (it has been logged)")
