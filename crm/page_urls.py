from django.urls import path

from crm import views

urlpatterns = [path("", views.workspace, name="crm-home")]
