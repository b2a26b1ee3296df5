"""Small shared pieces for the thin DRF views."""

from __future__ import annotations

from typing import Any

from django.http import QueryDict
from rest_framework import serializers
from rest_framework.request import Request

from builder.core.exceptions import ValidationFailed
from builder.core.strict_input import wrong_json_types


def validated(serializer_class: type[serializers.Serializer[Any]], data: Any, **kwargs: Any) -> dict[str, Any]:
    """Run an input serializer; its errors surface in the one error shape (400). A JSON body's
    values must have their fields' JSON types (``builder.core.strict_input``); a form's are text."""
    serializer = serializer_class(data=data, **kwargs)
    if not isinstance(data, QueryDict):
        problems = wrong_json_types(serializer, data)
        if problems:
            raise ValidationFailed(fields=problems)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def query_param(request: Request, name: str, default: str) -> str:
    value = request.query_params.get(name, default)
    if not isinstance(value, str):
        raise ValidationFailed(fields={name: ["Invalid value."]})
    return value
