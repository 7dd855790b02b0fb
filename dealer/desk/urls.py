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

# The browser desk's additions (dealer.desk.desk_api): axes, the review cockpit's context, the book.
from dealer.desk import desk_api

urlpatterns += [
    path("desk/axes/", desk_api.AxeList.as_view(), name="desk-axe-list"),
    path("desk/axes/<int:axe_id>/", desk_api.AxeDetail.as_view(), name="desk-axe-detail"),
    path("desk/axes/<int:axe_id>/retire/", desk_api.AxeRetire.as_view(), name="desk-axe-retire"),
    path("desk/rfqs/<int:rfq_id>/context/", desk_api.CockpitContext.as_view(), name="desk-rfq-context"),
    path("desk/book/", desk_api.BookView.as_view(), name="desk-book-api"),
]
