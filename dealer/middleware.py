"""Edge guards for the API: bodies over 64 KB get a JSON 413 before any parsing."""
from __future__ import annotations

from typing import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse


class ApiBodyLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/") and request.method in ("POST", "PUT", "PATCH"):
            limit = settings.API_MAX_BODY_BYTES
            too_big = JsonResponse(
                {"detail": f"The request body is larger than {limit // 1024} KB."}, status=413
            )
            try:
                declared = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return JsonResponse({"detail": "Content-Length is not a number."}, status=400)
            if declared > limit:
                return too_big
            try:
                if len(request.body) > limit:
                    return too_big
            except RequestDataTooBig:
                return too_big
        return self.get_response(request)
