from django.urls import path

from dealer.desk import views

urlpatterns = [
    path("", views.blotter, name="desk-blotter"),
    path("book/", views.book, name="desk-book"),
]
