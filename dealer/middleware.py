"""Edge guards for the API: bodies over 64 KB get a JSON 413 before any parsing."""
from __future__ import annotations

from typing import Any, Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse


class ApiBodyLimitMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.__acall__(request)
        refused = self._refuse(request)
        return refused if refused is not None else self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        refused = self._refuse(request)
        return refused if refused is not None else await self.get_response(request)

    def _refuse(self, request: HttpRequest) -> HttpResponse | None:
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
        return None
