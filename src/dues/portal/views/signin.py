"""Signing in with an emailed link, and out."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from dues.core.clock import SystemClock
from dues.portal.forms import SigninForm
from dues.portal.session import member_login, member_logout
from dues.portal.signin import SigninLinkInvalid, signin_member, signin_request, signin_use

CLOCK = SystemClock()
NEXT_KEY = "dues_signin_next"


@require_http_methods(["GET", "POST"])
def signin_page(request: HttpRequest) -> HttpResponse:
    form = SigninForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        target = request.GET.get("next", "")
        if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
            request.session[NEXT_KEY] = target
        signin_request(email=form.cleaned_data["email"], clock=CLOCK)
        return render(request, "portal/signin_sent.html", {"email": form.cleaned_data["email"]})
    return render(request, "portal/signin.html", {"form": form})


@require_http_methods(["GET", "POST"])
def signin_link_page(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button, POST signs in: a link fetched by a mail scanner stays unused."""
    try:
        member = (
            signin_use(token, clock=CLOCK)
            if request.method == "POST"
            else signin_member(token, clock=CLOCK)
        )
    except SigninLinkInvalid as exc:
        return render(request, "portal/signin_invalid.html", {"reason": exc.reason}, status=410)
    if request.method == "GET":
        return render(request, "portal/signin_confirm.html", {"gym": member.organization.name})
    # The page the member wanted before signing in, if this is the browser they asked in.
    target = request.session.get(NEXT_KEY) or reverse("portal-home")
    member_login(request, member)
    request.session.pop(NEXT_KEY, None)
    return HttpResponseRedirect(target)


@require_POST
def signout(request: HttpRequest) -> HttpResponse:
    member_logout(request)
    return HttpResponseRedirect(reverse("portal-signin"))
