"""The member's door pass: the rotating QR code the door reads (``access.qr``).

The page hands the browser the member's QR credential (issued on first visit) and the
server's time; ``portal/door.js`` computes the code every 30 s with WebCrypto and draws it
with the vendored QR library, so the pass keeps working with no network. The page's own
service worker (scope ``/me/door/``) keeps the page and its scripts for offline use.
"""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from dues.access.services import member_qr_credential, qr_secret
from dues.core.clock import SystemClock
from dues.members.models import Member
from dues.portal.session import member_required

CLOCK = SystemClock()


@require_GET
@member_required
@cache_control(private=True, no_cache=True)
def door(request: HttpRequest) -> HttpResponse:
    member: Member = request.member  # type: ignore[attr-defined]
    credential = member_qr_credential(member=member, clock=CLOCK)
    return render(
        request,
        "portal/door.html",
        {
            "member": member,
            "gym": member.organization.name,
            "pass_id": credential.value,
            "pass_secret": qr_secret(credential).hex(),
            "server_ms": int(CLOCK.now().timestamp() * 1000),
        },
    )


@require_GET
@cache_control(no_cache=True)
def door_worker(request: HttpRequest) -> HttpResponse:
    """Network first for the pass page, the cached copy when offline."""
    files = [
        reverse("portal-door"),
        static("portal/portal.css"),
        static("portal/vendor/qrcode.js"),
        static("portal/door.js"),
    ]
    script = (
        "// Dues door pass: the page and its scripts, for use with no network.\n"
        'const CACHE = "dues-door-v1";\n'
        f"const FILES = {json.dumps(files)};\n"
        'self.addEventListener("install", (e) => { e.waitUntil(caches.open(CACHE)'
        ".then((c) => c.addAll(FILES)).then(() => self.skipWaiting())); });\n"
        'self.addEventListener("activate", (e) => { e.waitUntil(self.clients.claim()); });\n'
        'self.addEventListener("fetch", (e) => {\n'
        '  if (e.request.method !== "GET") return;\n'
        "  e.respondWith(fetch(e.request).then((r) => {\n"
        "    if (r.ok) {\n"
        "      const copy = r.clone();\n"
        "      caches.open(CACHE).then((c) => c.put(e.request, copy));\n"
        "    }\n"
        "    return r;\n"
        "  }).catch(() => caches.match(e.request)));\n"
        "});\n"
    )
    return HttpResponse(script, content_type="text/javascript")
