from django.urls import path

from dues.staff.views import actions, auth, members

urlpatterns = [
    path("", members.home, name="staff-home"),
    path("login/", auth.login_page, name="staff-login"),
    path("login/code/", auth.code_page, name="staff-login-code"),
    path("login/setup/", auth.setup_page, name="staff-login-setup"),
    path("logout/", auth.logout_page, name="staff-logout"),
    path("organization/", auth.organization_page, name="staff-organization"),
    path("members/", members.search, name="staff-members"),
    path("members/<int:member_id>/", members.profile, name="staff-member"),
    path("members/<int:member_id>/notes/", members.note_add, name="staff-note-add"),
    path(
        "members/<int:member_id>/invoices/<int:invoice_id>/payment/",
        actions.desk_payment,
        name="staff-desk-payment",
    ),
    path(
        "members/<int:member_id>/invoices/<int:invoice_id>/credit/",
        actions.credit_note,
        name="staff-credit-note",
    ),
    path(
        "members/<int:member_id>/payments/<int:payment_id>/refund/",
        actions.refund,
        name="staff-refund",
    ),
    path(
        "members/<int:member_id>/memberships/<int:subscription_id>/freeze/",
        actions.freeze,
        name="staff-freeze",
    ),
    path(
        "members/<int:member_id>/memberships/<int:subscription_id>/cancel/",
        actions.cancel,
        name="staff-cancel",
    ),
    path(
        "members/<int:member_id>/memberships/<int:subscription_id>/plan/",
        actions.change_plan,
        name="staff-change-plan",
    ),
]
