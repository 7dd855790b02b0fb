from django.urls import path

from dealer.reports import views

urlpatterns = [
    path("", views.profitability, name="reports-home"),
    path("flow/", views.flow, name="reports-flow"),
    path("hits/", views.hits, name="reports-hits"),
    path("judgment/", views.judgment, name="reports-judgment"),
    path("inventory/", views.inventory, name="reports-inventory"),
]
