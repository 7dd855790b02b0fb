from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from dealer import health, views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/no-role/", views.no_role, name="no-role"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/", include("dealer.market.urls")),
    path("api/", include("dealer.desk.urls")),
    path("api/", include("crm.urls")),
    path("api/", include("dealer.reports.urls")),
    path("api/", include("dealer.hedging.urls")),
    path("desk/", include("dealer.desk.page_urls")),
    path("crm/", include("crm.page_urls")),
    path("reports/", include("dealer.reports.page_urls")),
]

handler404 = "dealer.views.not_found"
