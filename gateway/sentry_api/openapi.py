"""The read/act API's OpenAPI 3.1 schema, generated from the route table and the pydantic models
(nothing written by hand that could drift from what the code accepts and answers)."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from gateway.sentry_api import queries as q
from gateway.sentry_api.models import ErrorBody
from gateway.sentry_api.routes import API, PREFIX, ApiRoute
from shared.version import package_version

REF = "#/components/schemas/{model}"
PATH_MODELS: dict[str, type[BaseModel]] = {
    "slug": q.ProjectPath, "issue_id": q.IssuePath, "event_id": q.EventPath, "user_id": q.UserPath,
}
ERRORS = {
    "401": "no or unknown service token", "403": "the token's scope does not allow this",
    "404": "Sentry has no such resource", "422": "invalid parameters or body",
    "429": "budget spent or Sentry rate limiting (see Retry-After)", "503": "not configured, or Redis unreachable",
}


def _parameters(route: ApiRoute, defs: dict[str, Any]) -> list[dict[str, Any]]:
    params = []
    for name in re.findall(r"{(\w+)}", route.path):
        prop = PATH_MODELS[name].model_json_schema()["properties"][name]
        params.append({"name": name, "in": "path", "required": True, "schema": prop})
    if route.query is not None:
        schema = route.query.model_json_schema(ref_template=REF)
        required = set(schema.get("required", []))
        for name, prop in schema["properties"].items():
            params.append({"name": name, "in": "query", "required": name in required, "schema": prop})
    for header, description in route.headers.items():
        params.append({"name": header, "in": "header", "required": False, "description": description,
                       "schema": {"type": "string", "maxLength": 200}})
    return params


def _operation(route: ApiRoute, defs: dict[str, Any]) -> dict[str, Any]:
    status = "202" if route.method == "POST" else "200"
    if route.answer is None:
        content = {"text/plain": {"schema": {"type": "string"}}}
    else:
        content = {"application/json": {"schema": {"$ref": REF.format(model=route.answer.__name__)}}}
    responses: dict[str, Any] = {status: {"description": route.summary, "content": content}}
    error = {"application/json": {"schema": {"$ref": REF.format(model="ErrorBody")}}}
    responses |= {code: {"description": text, "content": error} for code, text in ERRORS.items()}
    op: dict[str, Any] = {
        "summary": route.summary, "operationId": route.handler.__name__,
        "parameters": _parameters(route, defs), "responses": responses,
        "security": [{"serviceToken": []}],
    }
    if route.body is not None:
        op["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": {"$ref": REF.format(model=route.body.__name__)}}}}
    return op


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    models: list[type[BaseModel]] = [ErrorBody]
    for route in API:
        models += [m for m in (route.answer, route.body, route.query) if m is not None and m not in models]
    _, defs = models_json_schema([(m, "serialization") for m in models], ref_template=REF)
    paths: dict[str, Any] = {}
    for route in API:
        paths.setdefault(PREFIX + route.path, {})[route.method.lower()] = _operation(route, defs)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Sentry Responder read/act API", "version": package_version()},
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {"serviceToken": {"type": "http", "scheme": "bearer"}},
        },
    }
