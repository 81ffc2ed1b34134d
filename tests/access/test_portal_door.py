"""The member's door pass: the page gives the browser its QR credential, the browser's code
(portal/door.js, WebCrypto) is the server's, and the door lets the member in with it."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from django.test import Client

import dues
from dues.access.decide import access_decide
from dues.access.models import Credential, CredentialKind
from dues.access.qr import qr_code, qr_step
from dues.access.services import qr_secret
from dues.portal.signin import signin_token
from dues.portal.views import account, door, signin
from tests.factories import join

STATIC = Path(dues.__file__).parent / "portal" / "static" / "portal"


@pytest.fixture
def member_client(org, location, clock, monkeypatch):
    for module in (account, signin, door):
        monkeypatch.setattr(module, "CLOCK", clock)
    member, _ = join(org, location, clock, member_kw={"first_name": "Maja"})
    client = Client()
    assert client.post(f"/me/signin/{signin_token(member, clock=clock)}/").status_code == 302
    return member, client


def test_the_pass_page_issues_one_qr_credential_and_hands_it_to_the_browser(member_client, clock):
    member, client = member_client
    page = client.get("/me/door/")
    assert page.status_code == 200
    credential = Credential.objects.get(member=member, kind=CredentialKind.QR, revoked_at=None)
    html = page.content.decode()
    assert f'data-id="{credential.value}"' in html
    assert f'data-secret="{qr_secret(credential).hex()}"' in html
    assert f'data-server-ms="{int(clock.now().timestamp() * 1000)}"' in html
    assert "/static/portal/vendor/qrcode.js" in html
    assert "private" in page["Cache-Control"]
    client.get("/me/door/")
    assert Credential.objects.filter(member=member, kind=CredentialKind.QR).count() == 1


def test_the_pass_page_needs_a_signed_in_member():
    response = Client().get("/me/door/")
    assert response.status_code == 302
    assert response["Location"].startswith("/me/signin/")


def test_the_pass_page_in_swedish(member_client):
    member, client = member_client
    member.language = "sv"
    member.save(update_fields=["language"])
    html = client.get("/me/door/").content.decode()
    assert "Dörrpass" in html
    assert "Den byts var 25:e sekund, så en skärmdump fungerar inte." in html


def test_the_pass_worker_keeps_the_page_for_offline_use(member_client):
    _, client = member_client
    worker = client.get("/me/door/sw.js")
    assert worker.status_code == 200
    assert worker["Content-Type"] == "text/javascript"
    body = worker.content.decode()
    files = json.loads(body.split("const FILES = ")[1].split(";\n")[0])
    assert files[0] == "/me/door/"
    assert "/static/portal/door.js" in files
    assert "caches.match(e.request)" in body


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the page's script")
def test_the_browser_code_is_the_servers_and_opens_the_door(member_client, location, clock):
    """Runs portal/door.js under node (WebCrypto as in a browser) and scans its payload."""
    member, client = member_client
    client.get("/me/door/")
    credential = Credential.objects.get(member=member, kind=CredentialKind.QR)
    secret = qr_secret(credential)
    script = f"""
      require({json.dumps(str(STATIC / "vendor" / "qrcode.js"))});
      require({json.dumps(str(STATIC / "door.js"))});
      const pass = {{ id: {json.dumps(credential.value)}, secret: {json.dumps(secret.hex())} }};
      globalThis.DuesDoor.payload(pass, {int(clock.now().timestamp() * 1000)}).then((p) => {{
        const svg = globalThis.DuesDoor.svg(p.text);
        console.log(JSON.stringify({{ text: p.text, step: p.step, svg: svg.length > 500 }}));
      }});
    """
    out = subprocess.run(
        ["node", "-e", script], capture_output=True, text=True, check=True, timeout=30
    )
    got = json.loads(out.stdout)
    step = qr_step(clock.now())
    assert got == {
        "text": f"{credential.value}.{qr_code(secret, step)}",
        "step": step,
        "svg": True,
    }
    decision = access_decide(location=location, clock=clock, value=got["text"])
    assert (decision.allowed, decision.code, decision.member) == (True, "membership", member)
