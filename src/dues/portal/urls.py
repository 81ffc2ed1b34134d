from django.urls import path

from dues.portal.views import account, app, join, links, signin

urlpatterns = [
    path("i/<str:token>/", links.invoice_page, name="portal-invoice"),
    path("c/<str:token>/", links.card_page, name="portal-card-link"),
    path("join/<slug:slug>/", join.join_plan, name="portal-join-plan"),
    path("join/<slug:slug>/details/", join.join_details, name="portal-join-details"),
    path("join/<slug:slug>/contract/", join.join_contract, name="portal-join-contract"),
    path("join/<slug:slug>/payment/", join.join_payment, name="portal-join-payment"),
    path("me/signin/", signin.signin_page, name="portal-signin"),
    path("me/signin/<str:token>/", signin.signin_link_page, name="portal-signin-link"),
    path("me/signout/", signin.signout, name="portal-signout"),
    path("me/manifest.webmanifest", app.manifest, name="portal-manifest"),
    path("me/sw.js", app.service_worker, name="portal-sw"),
    path("me/offline/", app.offline, name="portal-offline"),
    path("me/", account.home, name="portal-home"),
    path("me/invoices/", account.invoices, name="portal-invoices"),
    path("me/invoices/<int:invoice_id>/", account.invoice, name="portal-invoice-detail"),
    path("me/invoices/<int:invoice_id>/pdf/", account.invoice_download, name="portal-invoice-pdf"),
    path("me/card/", account.card, name="portal-card"),
    path(
        "me/memberships/<int:subscription_id>/cancel/",
        account.membership_cancel,
        name="portal-membership-cancel",
    ),
    path(
        "me/memberships/<int:subscription_id>/freeze/",
        account.membership_freeze,
        name="portal-membership-freeze",
    ),
    path("me/messages/", account.inbox, name="portal-inbox"),
    path("me/settings/", account.settings_page, name="portal-settings"),
    path("me/export/", account.export, name="portal-export"),
    path("me/export/csv/", account.export_csv, name="portal-export-csv"),
]
