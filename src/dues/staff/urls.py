from django.urls import path

from dues.staff.views import actions, auth, catalog, checkin, dashboard, dunning, members, team
from dues.staff.views import classes as class_views
from dues.staff.views import templates as message_templates

urlpatterns = [
    path("", members.home, name="staff-home"),
    path("dashboard/", dashboard.dashboard, name="staff-dashboard"),
    path("classes/", class_views.week, name="staff-classes"),
    path("classes/<int:session_id>/", class_views.roster, name="staff-class-roster"),
    path("classes/<int:session_id>/cancel/", class_views.cancel, name="staff-class-cancel"),
    path("classes/<int:session_id>/change/", class_views.change, name="staff-class-change"),
    path(
        "classes/bookings/<int:booking_id>/check-in/",
        class_views.check_in,
        name="staff-class-check-in",
    ),
    path(
        "classes/bookings/<int:booking_id>/forgive/",
        class_views.forgive,
        name="staff-class-forgive",
    ),
    path("login/", auth.login_page, name="staff-login"),
    path("login/code/", auth.code_page, name="staff-login-code"),
    path("login/setup/", auth.setup_page, name="staff-login-setup"),
    path("logout/", auth.logout_page, name="staff-logout"),
    path("organization/", auth.organization_page, name="staff-organization"),
    path("password/forgot/", team.PasswordForgot.as_view(), name="staff-password-forgot"),
    path("password/sent/", team.password_sent, name="staff-password-sent"),
    path("password/done/", team.password_done, name="staff-password-done"),
    path("password/<uidb64>/<token>/", team.PasswordSet.as_view(), name="staff-password"),
    path("team/", team.team, name="staff-team"),
    path("team/<int:role_id>/", team.team_member, name="staff-team-member"),
    path("members/", members.search, name="staff-members"),
    path("members/<int:member_id>/", members.profile, name="staff-member"),
    path("members/<int:member_id>/notes/", members.note_add, name="staff-note-add"),
    path("members/<int:member_id>/photo/", checkin.member_photo, name="staff-member-photo"),
    path("members/<int:member_id>/access/", checkin.member_access, name="staff-member-access"),
    path("checkin/", checkin.checkin, name="staff-checkin"),
    path("checkin/member/<int:member_id>/", checkin.checkin_member, name="staff-checkin-member"),
    path("attendance/", checkin.attendance, name="staff-attendance"),
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
    path("plans/", catalog.plans, name="staff-plans"),
    path("plans/new/", catalog.plan_new, name="staff-plan-new"),
    path("plans/<int:plan_id>/", catalog.plan_edit, name="staff-plan-edit"),
    path("plans/add-ons/new/", catalog.addon_new, name="staff-addon-new"),
    path("plans/add-ons/<int:addon_id>/", catalog.addon_edit, name="staff-addon-edit"),
    path("dunning/", dunning.policies, name="staff-policies"),
    path("dunning/new/", dunning.policy_new, name="staff-policy-new"),
    path("dunning/<int:policy_id>/", dunning.policy_edit, name="staff-policy-edit"),
    path("templates/", message_templates.templates, name="staff-templates"),
    path(
        "templates/<path:name>/",
        message_templates.template_edit,
        name="staff-template-edit",
    ),
]
