from django.urls import path

from dues.portal.views import account, app, door, join, links, signin
from dues.portal.views import classes as class_views

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
    path("me/door/", door.door, name="portal-door"),
    path("me/door/sw.js", door.door_worker, name="portal-door-sw"),
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
    path("me/classes/", class_views.schedule, name="portal-classes"),
    path("me/classes/bookings/", class_views.bookings, name="portal-class-bookings"),
    path("me/classes/<int:session_id>/", class_views.session_page, name="portal-class"),
    path("me/classes/<int:session_id>/book/", class_views.book, name="portal-class-book"),
    path(
        "me/classes/bookings/<int:booking_id>/cancel/",
        class_views.cancel,
        name="portal-class-cancel",
    ),
    path(
        "me/classes/calendar/<str:token>.ics",
        class_views.calendar_feed,
        name="portal-class-calendar",
    ),
]
