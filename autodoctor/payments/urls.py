"""Pages of the payments app (mounted at /payments/)."""

from django.urls import path

from . import views

app_name = "payments"
urlpatterns = [
    path("", views.my_payments, name="mine"),
    path("checkout/<int:reservation_id>/", views.checkout_page, name="checkout"),
    path("checkout/<int:reservation_id>/waiver/", views.pay_with_waiver, name="pay_waiver"),
    path("checkout/<int:reservation_id>/credits/", views.pay_with_credits, name="pay_credits"),
    path("checkout/<int:reservation_id>/card/", views.pay_by_card, name="pay_card"),
    path("receipts/<int:payment_id>/", views.receipt, name="receipt"),
    path("earnings/", views.earnings, name="earnings"),
    path("simulated/<str:checkout_id>/", views.simulated_checkout, name="simulated_checkout"),
    path("webhooks/stripe/", views.webhook_stripe, name="webhook_stripe"),
    path("webhooks/simulated/", views.webhook_simulated, name="webhook_simulated"),
]
