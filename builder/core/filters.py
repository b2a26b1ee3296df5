"""django-filter's backend, holding query parameters to the types the API schema gives them."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django_filters import BooleanFilter, FilterSet
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.request import Request

from builder.core.exceptions import ValidationFailed

BOOLEAN_VALUES = ("true", "false")


class FilterBackend(DjangoFilterBackend):
    """A boolean filter takes ``true`` or ``false``: anything else is a 400 naming the parameter.

    django-filter reads every other value (``?published=maybe``) as "no filter", so a client's
    typo would silently list everything.
    """

    def get_filterset(self, request: Request, queryset: QuerySet[Any], view: Any) -> FilterSet | None:
        filterset: FilterSet | None = super().get_filterset(request, queryset, view)
        if filterset is None:
            return None
        for name, declared in filterset.filters.items():
            value = request.query_params.get(name)
            if isinstance(declared, BooleanFilter) and value is not None and value not in BOOLEAN_VALUES:
                raise ValidationFailed(fields={name: [_("Must be true or false.")]})
        return filterset
