"""Forms of the message template pages: which part and language to open, and the text
(checked by ``notify.services.template_override_check``, whose errors land on ``body``)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from dues.notify.catalog import MessageTemplate
from dues.notify.models import TemplatePart


def _part_choices(template: MessageTemplate) -> list[tuple[str, str]]:
    labels = dict(TemplatePart.choices)
    return [(part, str(labels[part])) for part in template.parts]


class TemplatePickForm(forms.Form):
    """Which part, in which language (a GET form: it only opens the text)."""

    part = forms.ChoiceField(label=_("Part"))
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)

    def __init__(self, *args: Any, template: MessageTemplate, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["part"].choices = _part_choices(template)  # type: ignore[attr-defined]


class TemplateEditForm(forms.Form):
    """The text of one part in one language (both fixed: chosen with ``TemplatePickForm``)."""

    part = forms.ChoiceField(widget=forms.HiddenInput)
    language = forms.ChoiceField(widget=forms.HiddenInput, choices=settings.LANGUAGES)
    variant = forms.ChoiceField(label=_("Preview with the sample for"), required=False)
    body = forms.CharField(
        label=_("Text"),
        strip=False,
        required=False,  # "Back to default" needs none; Preview and Save check it
        widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "true"}),
    )

    def __init__(self, *args: Any, template: MessageTemplate, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["part"].choices = _part_choices(template)  # type: ignore[attr-defined]
        variants = template.doc.variants if template.doc else ()
        if variants:
            choices = [(key, str(label)) for key, label in variants]
            self.fields["variant"].choices = choices  # type: ignore[attr-defined]
        else:
            del self.fields["variant"]
        self.fields["body"].widget.attrs["aria-describedby"] = "variables-help"

    def clean_body(self) -> str:
        return str(self.cleaned_data.get("body") or "").replace("\r\n", "\n")
