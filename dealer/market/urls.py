from django.urls import path

from dealer.market import api

urlpatterns = [path("instruments/", api.InstrumentList.as_view(), name="instrument-list")]
