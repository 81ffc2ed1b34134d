from django.urls import path

from dues.portal import views

urlpatterns = [
    path("i/<str:token>/", views.invoice_page, name="portal-invoice"),
    path("c/<str:token>/", views.card_page, name="portal-card"),
]
