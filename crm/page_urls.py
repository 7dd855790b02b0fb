from django.urls import path

from crm import views

urlpatterns = [
    path("", views.workspace, name="crm-home"),
    path("clients/<str:code>/", views.client_page, name="crm-client"),
    path("clients/<str:code>/<str:action>/", views.client_action, name="crm-client-action"),
    path("credit-requests/<int:request_id>/decide/", views.credit_decide, name="crm-credit-decide"),
    path("scores/recompute/", views.scores_recompute, name="crm-scores-recompute"),
    path("scores/run/", views.score_run, name="crm-score-run"),
    path("agreements/import/", views.import_agreements, name="crm-import"),
    path("import/clients/", views.import_clients, name="crm-import-clients"),
    path("settings/", views.settings_page, name="crm-settings"),
]
