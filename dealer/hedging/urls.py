from django.urls import path

from dealer.hedging import api

urlpatterns = [
    path("trades/<int:trade_id>/hedge/", api.TradeHedge.as_view(), name="trade-hedge"),
    path("hedge/orders/<int:order_id>/cancel/", api.OrderCancel.as_view(), name="hedge-order-cancel"),
    path("hedge/orders/<int:order_id>/horizon/", api.ScheduleHorizon.as_view(), name="hedge-order-horizon"),
    path("hedge/orders/<int:order_id>/hedge-now/", api.ScheduleHedgeNow.as_view(), name="hedge-order-now"),
    path("desk/axe-offers/", api.AxeOffers.as_view(), name="axe-offers"),
]
