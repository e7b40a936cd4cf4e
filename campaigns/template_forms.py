"""Browser form for the template library; it only parses input, campaigns.email_templates
decides."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy

from campaigns.forms import MERGE_TAG_HELP_TEXT

# The HTML field the visual editor (static/js/template-editor.js) takes over.
VISUAL_EDITOR_ATTRS = {"data-visual-editor": "", "rows": 16, "spellcheck": "true", "class": "code"}


class TemplateForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Template name"),
        max_length=200,
        help_text=gettext_lazy("For you; recipients do not see it."),
    )
    subject = forms.CharField(
        label=gettext_lazy("Subject"),
        max_length=300,
        required=False,
        help_text=gettext_lazy("Suggested for campaigns made from this template."),
    )
    html_body = forms.CharField(
        label=gettext_lazy("HTML body"),
        strip=False,
        widget=forms.Textarea(attrs=VISUAL_EDITOR_ATTRS),
        help_text=MERGE_TAG_HELP_TEXT,
    )
    text_body = forms.CharField(
        label=gettext_lazy("Text body"),
        strip=False,
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "class": "code"}),
        help_text=gettext_lazy("Left empty, it is made from the HTML. Merge tags work here too."),
    )


class SaveAsTemplateForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Template name"),
        max_length=200,
        required=False,
        help_text=gettext_lazy("Left empty, the template takes the campaign's name."),
    )
