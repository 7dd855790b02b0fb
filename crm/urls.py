from django.urls import path

from crm import api

urlpatterns = [
    path("clients/", api.ClientList.as_view(), name="client-list"),
    path("clients/<str:code>/", api.ClientDetail.as_view(), name="client-detail"),
    path("clients/<str:code>/agreements/", api.AgreementCreate.as_view(), name="client-agreements"),
    path("clients/<str:code>/interests/", api.InterestCreate.as_view(), name="client-interests"),
]
