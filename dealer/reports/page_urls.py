from django.urls import path

from dealer.reports import views

urlpatterns = [path("", views.reports_home, name="reports-home")]
