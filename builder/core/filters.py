"""django-filter's backend, holding query parameters to the types the API schema gives them."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django_filters import BooleanFilter, CharFilter, FilterSet
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.request import Request

from builder.core.exceptions import ValidationFailed

BOOLEAN_VALUES = ("true", "false")


class FilterBackend(DjangoFilterBackend):
    """A boolean filter takes ``true`` or ``false``, and a filter on a choice, an id or a number
    takes a value: anything else is a 400 naming the parameter.

    django-filter reads other booleans (``?published=maybe``) and empty values (``?status=``) as
    "no filter", so a client's mistake would silently list everything.
    """

    def get_filterset(self, request: Request, queryset: QuerySet[Any], view: Any) -> FilterSet | None:
        filterset: FilterSet | None = super().get_filterset(request, queryset, view)
        if filterset is None:
            return None
        for name, declared in filterset.filters.items():
            value = request.query_params.get(name)
            if value is None:
                continue
            if isinstance(declared, BooleanFilter) and value not in BOOLEAN_VALUES:
                raise ValidationFailed(fields={name: [_("Must be true or false.")]})
            if value == "" and type(declared) is not CharFilter:
                raise ValidationFailed(fields={name: [_("Give a value, or leave the parameter out.")]})
        return filterset
