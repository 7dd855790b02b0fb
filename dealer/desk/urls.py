from django.urls import path

from dealer.desk import api

urlpatterns = [
    path("rfqs/", api.RfqListCreate.as_view(), name="rfq-list"),
    path("rfqs/<int:rfq_id>/", api.RfqDetail.as_view(), name="rfq-detail"),
    path("rfqs/<int:rfq_id>/accept/", api.RfqAccept.as_view(), name="rfq-accept"),
    path("rfqs/<int:rfq_id>/reject/", api.RfqReject.as_view(), name="rfq-reject"),
    path("desk/rfqs/", api.DeskRfqList.as_view(), name="desk-rfq-list"),
    path("desk/rfqs/<int:rfq_id>/", api.DeskRfqDetail.as_view(), name="desk-rfq-detail"),
    path("desk/rfqs/<int:rfq_id>/decision/", api.DeskDecision.as_view(), name="desk-rfq-decision"),
    path("desk/rfqs/<int:rfq_id>/claim/", api.DeskClaim.as_view(), name="desk-rfq-claim"),
    path("desk/switches/", api.SwitchView.as_view(), name="desk-switches"),
    path("trades/", api.TradeList.as_view(), name="trade-list"),
    path("positions/", api.PositionList.as_view(), name="position-list"),
]
