from typing import Any

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from builder.core.crypto import encrypt_secret, mask_secret
from builder.credentials.models import Credential


class CredentialForm(forms.ModelForm):
    """The value is write-only here too: typing one replaces it, leaving the field empty keeps it."""

    new_value = forms.CharField(
        label=_("new value"), required=False, widget=forms.PasswordInput, help_text=_("Leave empty to keep the value.")
    )

    class Meta:
        model = Credential
        fields = ["workspace", "name", "kind"]


@admin.register(Credential)
class CredentialAdmin(admin.ModelAdmin):
    form = CredentialForm
    list_display = ["name", "workspace", "kind", "value_hint", "updated_at"]
    list_filter = ["kind"]
    search_fields = ["name", "workspace__name"]
    readonly_fields = ["value_hint", "created_by", "created_at", "updated_at"]

    def save_model(self, request: Any, obj: Credential, form: Any, change: bool) -> None:
        new_value = form.cleaned_data.get("new_value") or ""
        if new_value:
            obj.value_encrypted = encrypt_secret(new_value)
            obj.value_hint = mask_secret(new_value)
        super().save_model(request, obj, form, change)
