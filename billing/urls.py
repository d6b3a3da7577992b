from django.urls import path

from . import views

app_name = "billing"

urlpatterns = [
    path("products/", views.ProductsView.as_view(), name="products"),
    path("products/communications-credits/", views.CreditsView.as_view(), name="credits"),
    path("products/communications-credits/add-funds/", views.AddFundsView.as_view(), name="add_funds"),
    path("products/communications-credits/auto-recharge/", views.AutoRechargeView.as_view(), name="auto_recharge"),
    path(
        "products/communications-credits/auto-recharge/turn-off/",
        views.TurnOffAutoRechargeView.as_view(),
        name="turn_off_auto_recharge",
    ),
    path("products/communications-credits/transactions/", views.TransactionsView.as_view(), name="transactions"),
    path("payment-methods/add-card/", views.AddCardView.as_view(), name="add_card"),
    path("payment-methods/add-agreement/", views.AddAgreementView.as_view(), name="add_agreement"),
    path("payment-methods/<int:pk>/remove/", views.RemovePaymentMethodView.as_view(), name="remove_payment_method"),
    path("payments/<str:key>/", views.PaymentView.as_view(), name="payment"),
    path("receipts/<str:number>/", views.ReceiptView.as_view(), name="receipt"),
]
