"""What makes the portal an installable app: the web app manifest and a service worker
that keeps the app's shell (styles, icons, the offline page) so the portal opens with no
network. Served under /me/ so the worker's scope is the member's pages."""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET


@require_GET
@cache_control(max_age=3600)
def manifest(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {
            "name": _("My gym"),
            "short_name": _("Gym"),
            "start_url": reverse("portal-home"),
            "scope": "/me/",
            "display": "standalone",
            "background_color": "#f4f4f5",
            "theme_color": "#1d4ed8",
            "icons": [
                {"src": static(f"portal/icon-{s}.png"), "sizes": f"{s}x{s}", "type": "image/png"}
                for s in (192, 512)
            ],
        },
        content_type="application/manifest+json",
    )


@require_GET
@cache_control(no_cache=True)
def service_worker(request: HttpRequest) -> HttpResponse:
    shell = [
        static("portal/portal.css"),
        static("portal/icon-192.png"),
        reverse("portal-offline"),
    ]
    return render(
        request,
        "portal/sw.js",
        {"shell": json.dumps(shell), "offline": reverse("portal-offline")},
        content_type="text/javascript",
    )


@require_GET
def offline(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/offline.html", {"gym": ""})
