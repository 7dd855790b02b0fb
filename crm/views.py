from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from crm.selectors import clients_for_user
from dealer.roles import MANAGEMENT, RM, has_role


@login_required
def workspace(request: HttpRequest) -> HttpResponse:
    if not has_role(request.user, RM, MANAGEMENT):
        raise PermissionDenied("The client workspace is for relationship managers and management.")
    clients = clients_for_user(request.user).order_by("tier__number", "code")[:500]
    return render(request, "crm/workspace.html", {"clients": clients})
