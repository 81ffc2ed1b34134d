"""Message templates: owners and managers word a message their own way, per part and
language, starting from the default (the file's) wording, with a preview on sample values
before anything is saved, and can go back to the default. The checks and the rendering are
notify's (``notify.services``, ``notify.catalog``); saving and going back are recorded by
``staff.services`` as set-up changes."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from dues.core.clock import SystemClock
from dues.notify.catalog import (
    Preview,
    message_template_info,
    message_templates,
    sample_context,
    template_preview,
)
from dues.notify.models import TemplateOverride, TemplatePart
from dues.notify.overrides import default_source
from dues.notify.render import date_text
from dues.notify.services import template_override_check
from dues.staff.forms import errors_to_form
from dues.staff.roles import Action
from dues.staff.services import staff_template_reset, staff_template_save
from dues.staff.session import staff_view
from dues.staff.templates_forms import TemplateEditForm, TemplatePickForm
from dues.staff.views.members import lang, staff_of

CLOCK = SystemClock()

PART_LABELS = dict(TemplatePart.choices)
LANGUAGE_LABELS = dict(settings.LANGUAGES)


@require_GET
@staff_view(Action.TEMPLATES_EDIT)
def templates(request: HttpRequest) -> HttpResponse:
    staff = staff_of(request)
    own: dict[str, list[str]] = {}
    for template, part, language in TemplateOverride.objects.filter(
        organization=staff.organization
    ).values_list("template", "part", "language"):
        own.setdefault(template, []).append(
            f"{PART_LABELS.get(part, part)} ({LANGUAGE_LABELS.get(language, language)})"
        )
    rows = [
        {
            "template": t,
            "parts": [PART_LABELS[part] for part in t.parts],
            "own": sorted(own.get(t.name, [])),
        }
        for t in message_templates()
    ]
    return render(request, "staff/templates.html", {"staff": staff, "rows": rows})


def _edit_url(name: str, part: str, language: str) -> str:
    query = urlencode({"part": part, "language": language})
    return f"{reverse('staff-template-edit', args=[name])}?{query}"


@require_http_methods(["GET", "POST"])
@staff_view(Action.TEMPLATES_EDIT)
def template_edit(request: HttpRequest, name: str) -> HttpResponse:
    staff = staff_of(request)
    try:
        template = message_template_info(name)
    except KeyError:
        raise Http404 from None
    if template.doc is None:
        raise Http404  # not documented yet: its variables are unknown
    asked = request.POST if request.method == "POST" else request.GET
    part = asked.get("part", "")
    part = part if part in template.parts else template.parts[0]
    language = asked.get("language", "")
    language = language if language in LANGUAGE_LABELS else settings.LANGUAGE_CODE
    org = staff.organization
    where: dict[str, Any] = {
        "organization": org,
        "template": name,
        "part": part,
        "language": language,
    }
    current = TemplateOverride.objects.filter(**where).select_related("updated_by").first()
    preview: Preview | None = None

    if request.method == "POST":
        form = TemplateEditForm(request.POST, template=template)
        if form.is_valid():
            data = form.cleaned_data
            what = {"template": name, "part": part, "language": language}
            if "reset" in request.POST:
                if staff_template_reset(user=staff.user, organization=org, clock=CLOCK, **what):
                    messages.success(request, _("Back to the default wording."))
                else:
                    messages.info(request, _("This already was the default wording."))
                return HttpResponseRedirect(_edit_url(name, part, language))
            try:
                if "save" in request.POST:
                    staff_template_save(
                        user=staff.user, organization=org, body=data["body"], clock=CLOCK, **what
                    )
                    messages.success(request, _("Saved. Members now get this wording."))
                    return HttpResponseRedirect(_edit_url(name, part, language))
                body = template_override_check(body=data["body"], **what)
                preview = template_preview(
                    organization_id=org.pk,
                    template=template,
                    part=part,
                    language=language,
                    gym=org.name,
                    body=body,
                    variant=data.get("variant") or "",
                )
            except ValidationError as exc:
                errors_to_form(form, exc)
    else:
        body = current.body if current else default_source(name, part, language)
        form = TemplateEditForm(
            initial={"part": part, "language": language, "body": body}, template=template
        )
    if form.errors.get("body"):
        form.fields["body"].widget.attrs["aria-describedby"] = "body-errors variables-help"

    variant = str(form["variant"].value() or "") if "variant" in form.fields else ""
    sample = sample_context(template, language, gym=org.name, variant=variant)
    assert template.doc is not None
    variables = [(v.name, v.meaning, sample.get(v.name, "")) for v in template.doc.variables]
    return render(
        request,
        "staff/template_form.html",
        {
            "staff": staff,
            "template": template,
            "pick": TemplatePickForm(
                initial={"part": part, "language": language},
                template=template,
                auto_id="pick_%s",  # the edit form below has its own part and language
            ),
            "form": form,
            "part_label": PART_LABELS[part],
            "language_label": LANGUAGE_LABELS[language],
            "current": current,
            "updated_on": date_text(current.updated_at.date(), lang()) if current else "",
            "updated_by": current.updated_by.get_username()
            if current and current.updated_by
            else "",
            "variables": variables,
            "preview": preview,
        },
    )
