"""The desk's roles (Django groups) and the permission checks built on them."""
from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import HttpRequest
from rest_framework.permissions import BasePermission

RM = "relationship_manager"
TRADER = "trader"
SENIOR_TRADER = "senior_trader"
MANAGEMENT = "management"
API_CLIENT = "api_client"
ROLES = (RM, TRADER, SENIOR_TRADER, MANAGEMENT, API_CLIENT)

DESK = frozenset({TRADER, SENIOR_TRADER})

WORKSPACES = {
    SENIOR_TRADER: "/desk/",
    TRADER: "/desk/",
    RM: "/crm/",
    MANAGEMENT: "/reports/",
    API_CLIENT: "/api/docs/",
}


def roles_of(user: AbstractBaseUser | AnonymousUser | None) -> frozenset[str]:
    if user is None or not user.is_authenticated:
        return frozenset()
    cached: frozenset[str] | None = getattr(user, "_desk_roles", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))  # type: ignore[attr-defined]
        user._desk_roles = cached  # type: ignore[union-attr]
    return cached


def has_role(user: Any, *roles: str) -> bool:
    return bool(roles_of(user) & set(roles))


def workspace_for(user: Any) -> str:
    mine = roles_of(user)
    for role in (SENIOR_TRADER, TRADER, MANAGEMENT, RM, API_CLIENT):
        if role in mine:
            return WORKSPACES[role]
    if getattr(user, "is_superuser", False):
        return "/admin/"
    return "/accounts/no-role/"


def roles_context(request: HttpRequest) -> dict[str, Any]:
    mine = roles_of(getattr(request, "user", None))
    return {
        "roles": mine,
        "is_desk": bool(mine & DESK),
        "is_senior": SENIOR_TRADER in mine,
        "is_rm": RM in mine,
        "is_management": MANAGEMENT in mine,
    }


def role_permission(*roles: str) -> type[BasePermission]:
    """A DRF permission class admitting authenticated users holding any of `roles`."""

    class _HasRole(BasePermission):
        message = "Your role does not allow this."

        def has_permission(self, request: Any, view: Any) -> bool:
            return has_role(request.user, *roles)

    _HasRole.__name__ = "HasRole_" + "_".join(roles)
    return _HasRole


IsApiClient = role_permission(API_CLIENT)
IsDesk = role_permission(TRADER, SENIOR_TRADER)
IsSeniorTrader = role_permission(SENIOR_TRADER)
IsDeskOrManagement = role_permission(TRADER, SENIOR_TRADER, MANAGEMENT)
IsPerson = role_permission(RM, TRADER, SENIOR_TRADER, MANAGEMENT)
