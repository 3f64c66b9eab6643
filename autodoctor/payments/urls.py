"""Pages of the payments app (mounted at /payments/)."""

from django.urls import path

from . import views

app_name = "payments"
urlpatterns = [
    path("", views.my_payments, name="mine"),
    # A held slot (scheduled booking)...
    path("checkout/<int:reservation_id>/", views.checkout_page, name="checkout"),
    path("checkout/<int:reservation_id>/waiver/", views.pay_with_waiver, name="checkout_waiver"),
    path("checkout/<int:reservation_id>/credits/", views.pay_with_credits, name="checkout_credits"),
    path("checkout/<int:reservation_id>/card/", views.pay_by_card, name="checkout_card"),
    # ...and a start-now session, paid before it goes out to mechanics.
    path("start/<int:session_id>/", views.checkout_page, name="start_checkout"),
    path("start/<int:session_id>/waiver/", views.pay_with_waiver, name="start_checkout_waiver"),
    path("start/<int:session_id>/credits/", views.pay_with_credits, name="start_checkout_credits"),
    path("start/<int:session_id>/card/", views.pay_by_card, name="start_checkout_card"),
    path("receipts/<int:payment_id>/", views.receipt, name="receipt"),
    path("earnings/", views.earnings, name="earnings"),
    path("statements/<int:year>/", views.statement, name="statement"),
    path("statements/<int:year>/platform/", views.platform_statement, name="platform_statement"),
    path("payouts/runs/", views.payout_runs, name="payout_runs"),
    path("payouts/runs/start/", views.payout_run_start, name="payout_run_start"),
    path("simulated/<str:checkout_id>/", views.simulated_checkout, name="simulated_checkout"),
    path("webhooks/stripe/", views.webhook_stripe, name="webhook_stripe"),
    path("webhooks/simulated/", views.webhook_simulated, name="webhook_simulated"),
]
