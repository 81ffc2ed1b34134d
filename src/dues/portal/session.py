"""Who is signed in to the portal. A member's session names the member; a view wrapped in
``member_required`` gets ``request.member`` or sends the visitor to sign in. Members are
not Django users: staff accounts and member sessions never mix."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import translation

from dues.members.models import Member
from dues.notify.render import message_language

SESSION_KEY = "dues_member"


def member_login(request: HttpRequest, member: Member) -> None:
    # A new session key at sign-in: a key planted before sign-in is worth nothing after.
    request.session.cycle_key()
    request.session[SESSION_KEY] = member.pk


def member_logout(request: HttpRequest) -> None:
    request.session.flush()


def signed_in_member(request: HttpRequest) -> Member | None:
    member_id = request.session.get(SESSION_KEY)
    if member_id is None:
        return None
    return (
        Member.objects.filter(pk=member_id).select_related("organization", "home_location").first()
    )


def member_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The view runs for a signed-in member, in the member's language."""

    @functools.wraps(view)
    def page(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        member = signed_in_member(request)
        if member is None:
            query = urlencode({"next": request.get_full_path()})
            return HttpResponseRedirect(f"{reverse('portal-signin')}?{query}")
        request.member = member  # type: ignore[attr-defined]
        with translation.override(message_language(member, member.home_location)):
            return view(request, *args, **kwargs)

    return page
