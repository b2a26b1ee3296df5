"""A JSON body's values have the JSON types the API schema gives their fields.

DRF converts what it is given: ``12`` becomes ``"12"`` in a text field, ``"12"`` becomes ``12`` in a
number field, ``"yes"`` and ``1`` become ``true``. The schema promises strings, numbers and
booleans, and a client that sends the wrong one has a bug it should hear about rather than a value
the server guessed (a display name of ``"4.1e+16"``). So before an input serializer converts a JSON
body, each value is checked against its field's JSON type, and text against its maximum length as
sent (DRF measures it trimmed); a form (multipart) carries only text and keeps DRF's conversion. The
reasons are DRF's own messages, translated like its others.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from rest_framework import serializers

# Checked in this order: the first class a field is an instance of gives its JSON type.
JSON_TYPES: tuple[tuple[type[serializers.Field[Any, Any, Any, Any]], tuple[type, ...], Any], ...] = (
    (serializers.BooleanField, (bool,), serializers.BooleanField.default_error_messages["invalid"]),
    (serializers.IntegerField, (int,), serializers.IntegerField.default_error_messages["invalid"]),
    (serializers.FloatField, (int, float), serializers.FloatField.default_error_messages["invalid"]),
    # Text in JSON, whatever it means: a choice, a UUID, an e-mail address, a date.
    (serializers.CharField, (str,), serializers.CharField.default_error_messages["invalid"]),
    (serializers.ChoiceField, (str,), serializers.CharField.default_error_messages["invalid"]),
    (serializers.UUIDField, (str,), serializers.CharField.default_error_messages["invalid"]),
    (serializers.DateTimeField, (str,), serializers.CharField.default_error_messages["invalid"]),
)


def wrong_json_types(serializer: serializers.BaseSerializer[Any], data: Any) -> dict[str, list[str]]:
    """Field path (``models.0.name``, as the error shape names nested fields) → why its value has
    the wrong JSON type, for the fields of ``serializer`` in the JSON value ``data``."""
    return {path: [reason] for path, reason in _problems(serializer, data, "")}


def _problems(field: Any, value: Any, path: str) -> Iterator[tuple[str, str]]:
    if value is None or getattr(field, "read_only", False):
        return  # null is the field's to refuse or allow (allow_null)
    if isinstance(field, serializers.ListSerializer):
        yield from _items(field, field.child, value, path)
    elif isinstance(field, serializers.Serializer):
        if not isinstance(value, Mapping):
            yield path or "non_field_errors", _not_a("dict", value)
            return
        for name, child in field.fields.items():
            if name in value:
                yield from _problems(child, value[name], f"{path}.{name}" if path else name)
    elif isinstance(field, serializers.ListField):
        yield from _items(field, field.child, value, path)
    elif isinstance(field, serializers.DictField):
        if not isinstance(value, Mapping):
            yield path, _not_a("dict", value)
            return
        for key, item in value.items():
            yield from _problems(field.child, item, f"{path}.{key}")
    else:
        yield from _scalar(field, value, path)


def _items(field: Any, child: Any, value: Any, path: str) -> Iterator[tuple[str, str]]:
    if not isinstance(value, list):
        yield path or "non_field_errors", _not_a("list", value)
        return
    for index, item in enumerate(value):
        yield from _problems(child, item, f"{path}.{index}" if path else str(index))


def _scalar(field: Any, value: Any, path: str) -> Iterator[tuple[str, str]]:
    for field_class, json_types, reason in JSON_TYPES:
        if isinstance(field, field_class):
            # bool is an int in Python, never a number in JSON.
            wrong = not isinstance(value, json_types) or (isinstance(value, bool) and bool not in json_types)
            if wrong:
                yield path, str(reason)
            elif isinstance(field, serializers.CharField) and field.max_length is not None:
                yield from _too_long(field, value, path)
            return


def _too_long(field: serializers.CharField, value: str, path: str) -> Iterator[tuple[str, str]]:
    """The schema's maxLength is the text as sent: DRF would measure it after trimming whitespace."""
    assert field.max_length is not None
    if len(value) > field.max_length:
        yield path, str(serializers.CharField.default_error_messages["max_length"]).format(max_length=field.max_length)


def _not_a(kind: str, value: Any) -> str:
    message = (
        serializers.ListField.default_error_messages["not_a_list"]
        if kind == "list"
        else serializers.DictField.default_error_messages["not_a_dict"]
    )
    return str(message).format(input_type=type(value).__name__)
