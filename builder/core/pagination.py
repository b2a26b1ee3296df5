import re
from typing import Any

from django.core.paginator import Paginator
from django.utils.translation import gettext as _
from rest_framework import pagination
from rest_framework.request import Request

from builder.core.exceptions import ValidationFailed

WHOLE_NUMBER = re.compile(r"[0-9]+", re.ASCII)


class PageNumberPagination(pagination.PageNumberPagination):
    """``?page=2&page_size=50``; the envelope is ``{count, next, previous, results}``.

    Both parameters are what the schema says they are (whole numbers from 1, ``page_size`` at most
    ``max_page_size``); anything else is a 400 naming the parameter, not a silent default that hides
    a client's mistake. A page past the last one is a 404.
    """

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 200
    last_page_strings = ()

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        return _whole_number(self.page_size_query_param, raw, maximum=self.max_page_size)

    def get_page_number(self, request: Request, paginator: Paginator) -> int:
        raw = request.query_params.get(self.page_query_param)
        return 1 if raw is None else _whole_number(self.page_query_param, raw)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters: list[dict[str, Any]] = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"]["maximum"] = self.max_page_size
        return parameters


def _whole_number(name: str, raw: str, *, maximum: int | None = None) -> int:
    value = int(raw) if WHOLE_NUMBER.fullmatch(raw) else 0
    if value < 1 or (maximum is not None and value > maximum):
        reason = (
            _("Enter a whole number from 1 to %(maximum)d.") % {"maximum": maximum}
            if maximum is not None
            else _("Enter a whole number from 1.")
        )
        raise ValidationFailed(fields={name: [reason]})
    return value
