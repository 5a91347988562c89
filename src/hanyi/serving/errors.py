"""The one exception the server's routes raise for a 4xx/5xx answer (app.py turns it into
``{"error": message, "status": code}``)."""

from __future__ import annotations


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers
