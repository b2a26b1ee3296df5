"""Small shared pieces for the thin DRF views."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.request import Request

from builder.core.exceptions import ValidationFailed


def validated(serializer_class: type[serializers.Serializer[Any]], data: Any, **kwargs: Any) -> dict[str, Any]:
    """Run an input serializer; its errors surface in the one error shape (400)."""
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def query_param(request: Request, name: str, default: str) -> str:
    value = request.query_params.get(name, default)
    if not isinstance(value, str):
        raise ValidationFailed(fields={name: ["Invalid value."]})
    return value
