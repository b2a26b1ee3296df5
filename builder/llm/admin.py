from typing import Any

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from builder.core.crypto import encrypt_secret, mask_secret
from builder.llm.models import ModelProvider
from builder.llm.plugin_providers import provider_kinds


def kind_choices() -> list[tuple[str, Any]]:
    """The built-in kinds and those of the plugins loaded now (asked each time the form is shown)."""
    return [(info.kind, info.label) for info in provider_kinds()]


class ModelProviderForm(forms.ModelForm):
    """The key is write-only here too: typing one replaces the stored key, leaving it empty keeps it."""

    kind = forms.ChoiceField(label=_("kind"), choices=kind_choices)
    new_api_key = forms.CharField(
        label=_("new API key"), required=False, widget=forms.PasswordInput, help_text=_("Leave empty to keep the key.")
    )

    class Meta:
        model = ModelProvider
        fields = [
            "workspace",
            "name",
            "kind",
            "preset",
            "base_url",
            "model_list",
            "default_model",
            "is_default",
            "timeout_s",
        ]


@admin.register(ModelProvider)
class ModelProviderAdmin(admin.ModelAdmin):
    form = ModelProviderForm
    list_display = ["name", "workspace", "kind", "preset", "api_key_hint", "is_default", "updated_at"]
    list_filter = ["kind", "is_default"]
    search_fields = ["name", "workspace__name", "base_url"]
    readonly_fields = ["api_key_hint", "created_by", "created_at", "updated_at"]

    def save_model(self, request: Any, obj: ModelProvider, form: Any, change: bool) -> None:
        new_key = (form.cleaned_data.get("new_api_key") or "").strip()
        if new_key:
            obj.api_key_encrypted = encrypt_secret(new_key)
            obj.api_key_hint = mask_secret(new_key)
        super().save_model(request, obj, form, change)
