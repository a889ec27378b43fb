"""Request validation with pydantic, and the OpenAPI document built from the same models.

Routes declare their body, query and response models once; the same declaration validates
the request and documents the endpoint at ``/openapi.json`` (browsable, for all four services
at once, in Swagger UI at ``/api/docs``: ``frontend/api_docs.py``).

Why our own, and not flask-openapi3 or spectree (both well kept, both pydantic-based; weighed
for issue 15). Of this module, the OpenAPI part (:class:`OpenApi`) is about a hundred lines;
the rest (JSON nesting depth, NUL characters, 415/400/422 told apart, errors in the platform's
one body) is hardening the fuzz tests asked for, which either library would still need around
it. Against that, adopting one would cost more than it saves:

- flask-openapi3 wants the app to be its ``OpenAPI`` subclass of Flask and the routes on its
  ``APIBlueprint``, path parameters declared again as pydantic models (we use Werkzeug's
  ``<uuid:...>`` converters), and its validation error body replaced through a callback; its
  UIs come as pip plugins that bundle their own Swagger UI per app, where the platform shows
  one Swagger UI over four documents, installed from npm like every browser library.
- spectree validates into ``request.context`` (not arguments), answers validation errors in its
  own shape unless hooked, and its UI pages load Swagger UI from a CDN, which the pages'
  Content-Security-Policy (scripts from this origin only) refuses.

Either switch would touch all 43 routes of the four services for the same document. Keep this
one while it stays this small; revisit if it has to grow (form bodies, headers, response
validation), which is where the libraries earn their keep.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from datetime import UTC
from typing import Annotated, Any

from flask import Blueprint, request
from pydantic import AfterValidator, AwareDatetime, BaseModel, ValidationError

from .errors import _HTTP_CODES
from .problems import Problem

#: A time with a UTC offset, normalised to UTC (PostgreSQL refuses offsets of 16 h or more, and
#: the platform speaks UTC anyway).
UtcDateTime = Annotated[AwareDatetime, AfterValidator(lambda moment: moment.astimezone(UTC))]

#: Characters that show nothing although Unicode does not class them as spaces or format
#: characters (Hangul fillers, the blank Braille pattern).
_BLANK_LOOKALIKES = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def has_visible_text(value: str) -> bool:
    """Whether ``value`` shows anything: not only spaces, zero-width or other format
    characters (``\u200b``, ``\u2060``, ``\ufeff``…), combining marks or blank lookalikes."""
    return any(
        not char.isspace() and char not in _BLANK_LOOKALIKES
        and unicodedata.category(char) not in {"Cf", "Cc", "Mn", "Me", "Zs", "Zl", "Zp"}
        for char in value
    )


ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {},
            },
        }
    },
}


def validation_details(exc: ValidationError) -> list[dict[str, str]]:
    """Pydantic's errors as ``[{field, message}]`` naming the field in the client's terms."""
    return [
        {"field": ".".join(str(p) for p in err["loc"]) or "body", "message": err["msg"]}
        for err in exc.errors(include_url=False)
    ]


#: The deepest nesting a request body may have: the platform's bodies are two or three levels
#: deep, and parsing or walking a deeper one only costs the server (Python's JSON parser gives
#: up with an error near a thousand levels).
MAX_JSON_DEPTH = 32


def json_depth_exceeds(value, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``value`` (parsed JSON) nests objects or arrays more than ``limit`` deep;
    walked with a stack of its own, never by recursion."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False


def request_json():
    """The request's JSON body, or None when it is missing or not JSON; a body nesting deeper
    than :data:`MAX_JSON_DEPTH` is a 400 ``invalid_json`` (never 500, however deep)."""
    try:
        payload = request.get_json(silent=True)
    except RecursionError:
        payload = _TOO_DEEP
    if payload is _TOO_DEEP or json_depth_exceeds(payload):
        raise Problem(400, "invalid_json",
                       f"The body nests deeper than {MAX_JSON_DEPTH} levels.")
    return payload


_TOO_DEEP = object()


def _nul_field(value, path: str = "") -> str | None:
    """The first field holding a NUL character (PostgreSQL cannot store one), or None."""
    if isinstance(value, str):
        return path or "body" if "\x00" in value else None
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        if "\x00" in str(key):
            return f"{path}.{key}".lstrip(".")
        found = _nul_field(item, f"{path}.{key}".lstrip("."))
        if found:
            return found
    return None


def _refuse_nul(payload) -> None:
    field = _nul_field(payload)
    if field:
        raise Problem(422, "validation_error", "Text may not contain NUL characters.",
                       [{"field": field, "message": "contains a NUL character"}])


def parse_json_body(model: type[BaseModel]) -> BaseModel:
    """The request's JSON body as ``model``, or a 4xx error body saying what is wrong."""
    if not request.is_json:
        raise Problem(415, "unsupported_media_type", "Send the body as application/json.")
    payload = request_json()
    if payload is None:
        raise Problem(400, "invalid_json", "The body is not valid JSON.")
    if not isinstance(payload, dict):
        raise Problem(422, "validation_error", "The body must be a JSON object.")
    _refuse_nul(payload)
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise Problem(
            422, "validation_error", "Some fields are missing or invalid.", validation_details(exc)
        ) from None


def parse_query(model: type[BaseModel]) -> BaseModel:
    """The query string as ``model``, or a 422 error body naming the bad parameters."""
    arguments = request.args.to_dict()
    _refuse_nul(arguments)
    try:
        return model.model_validate(arguments)
    except ValidationError as exc:
        raise Problem(
            422, "validation_error", "Some query parameters are invalid.", validation_details(exc)
        ) from None


class OpenApi:
    """Collects the routes of one service and renders its OpenAPI 3.1 document."""

    def __init__(self, title: str, version: str = "1.0.0", description: str = ""):
        self.title = title
        self.version = version
        self.description = description
        self.paths: dict[str, dict[str, Any]] = {}
        self.schemas: dict[str, Any] = {"Error": ERROR_SCHEMA}

    def _ref(self, model: type[BaseModel]) -> dict[str, str]:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in schema.pop("$defs", {}).items():
            self.schemas[name] = definition
        self.schemas[model.__name__] = schema
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    def route(
        self,
        blueprint: Blueprint,
        rule: str,
        method: str,
        *,
        summary: str,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        status: int = 200,
        errors: tuple[int, ...] = (),
        auth: bool = False,
        tag: str | None = None,
    ) -> Callable:
        """Register a view on ``blueprint`` and document it; the parsed body/query are passed
        to the view as ``body=`` / ``query=``."""

        def decorator(view: Callable) -> Callable:
            @functools.wraps(view)
            def wrapper(*args, **kwargs):
                if body is not None:
                    kwargs["body"] = parse_json_body(body)
                if query is not None:
                    kwargs["query"] = parse_query(query)
                return view(*args, **kwargs)

            blueprint.add_url_rule(rule, view_func=wrapper, methods=[method])
            self._document(rule, method, view, summary, body, query, response, status, errors,
                           auth, tag)
            return wrapper

        return decorator

    def _document(self, rule, method, view, summary, body, query, response, status, errors, auth,
                  tag) -> None:
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)
        parameters = [
            {"name": name, "in": "path", "required": True,
             "schema": {"type": "string", "format": "uuid"} if f"uuid:{name}" in rule
             else {"type": "string"}}
            for name in re.findall(r"<(?:[a-z]+:)?([a-z_]+)>", rule)
        ]
        if query is not None:
            for name, field in query.model_fields.items():
                schema = query.model_json_schema()["properties"][name]
                parameters.append({"name": field.alias or name, "in": "query",
                                   "required": field.is_required(), "schema": schema})
        operation: dict[str, Any] = {
            "summary": summary,
            "operationId": view.__name__,
            "parameters": parameters,
            "responses": {
                str(status): {
                    "description": "OK",
                    **({"content": {"application/json": {"schema": self._ref(response)}}}
                       if response else {}),
                }
            },
        }
        if tag:
            operation["tags"] = [tag]
        if body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": self._ref(body)}},
            }
        codes = set(errors) | ({401} if auth else set()) | ({415, 400, 422} if body else set())
        codes |= {422} if query else set()
        for code in sorted(codes):
            operation["responses"][str(code)] = {
                "description": _HTTP_CODES.get(code, "error"),
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
        if auth:
            operation["security"] = [{"bearer": []}]
        self.paths.setdefault(path, {})[method.lower()] = operation

    def document(self) -> dict[str, Any]:
        """The OpenAPI 3.1 document."""
        return {
            "openapi": "3.1.0",
            "info": {"title": self.title, "version": self.version,
                     "description": self.description},
            "paths": self.paths,
            "components": {
                "schemas": self.schemas,
                "securitySchemes": {
                    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
                },
            },
        }
