from django.urls import path

from dealer.desk import views

urlpatterns = [
    path("", views.blotter, name="desk-blotter"),
    path("review/<int:rfq_id>/", views.review, name="desk-review"),
    path("book/", views.book, name="desk-book"),
]
