"""Clients of the csvprof HTTP API (never packaged into the Lambda zip)."""

from csvprof.client.http import ApiResponse, CsvProfApiError, CsvProfClient

__all__ = ["ApiResponse", "CsvProfApiError", "CsvProfClient"]
