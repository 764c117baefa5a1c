"""Every /api answer is described by /api/openapi.json: a 2xx JSON answer has a schema with its
fields, never a bare object; the only answers without one are streamed downloads, listed here
with their media types."""

from __future__ import annotations

from typing import Any

import httpx

STREAMED_DOWNLOADS = {
    ("GET", "/api/audit/export"): {"text/csv", "application/x-ndjson"},
    ("GET", "/api/usage/export"): {"text/csv", "application/x-ndjson"},
}
"""(method, path) -> the media types the download is documented with; it has no JSON answer."""


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _why_untyped(spec: dict[str, Any], schema: dict[str, Any] | None) -> str | None:
    """Why `schema` does not describe an answer's fields, or None when it does."""
    if not schema:
        return "no schema"
    schema = _resolve(spec, schema)
    if schema.get("type") == "object" or "additionalProperties" in schema:
        if schema.get("additionalProperties") not in (None, False):
            return "a free-form object"
        if not schema.get("properties"):
            return "an object without fields"
        return None
    if schema.get("type") == "array":
        return _why_untyped(spec, schema.get("items"))
    if "anyOf" in schema:
        reasons = [_why_untyped(spec, s) for s in schema["anyOf"] if s.get("type") != "null"]
        return next((r for r in reasons if r), None)
    return None if schema.get("type") else "no type"


def _answers(spec: dict[str, Any]) -> list[tuple[str, str, str, dict[str, Any]]]:
    out = []
    for path, operations in spec["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status.startswith("2") and status != "204":
                    out.append((method.upper(), path, status, response.get("content", {})))
    return out


async def test_every_api_answer_has_a_schema(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/api/openapi.json")).json()
    answers = _answers(spec)
    assert len(answers) > 100
    missing = []
    for method, path, status, content in answers:
        if (method, path) in STREAMED_DOWNLOADS:
            continue
        why = _why_untyped(spec, content.get("application/json", {}).get("schema"))
        if why is not None:
            missing.append(f"{method} {path} {status}: {why}")
    assert missing == []


async def test_streamed_downloads_are_documented_with_their_media_types(
    client: httpx.AsyncClient,
) -> None:
    spec = (await client.get("/api/openapi.json")).json()
    found = {(m, p): set(content) for m, p, _, content in _answers(spec)}
    for route, media in STREAMED_DOWNLOADS.items():
        assert found[route] == media, route


async def test_a_list_answer_is_a_list_resource_of_its_items(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/api/openapi.json")).json()
    ok = spec["paths"]["/api/users"]["get"]["responses"]["200"]["content"]["application/json"]
    envelope = _resolve(spec, ok["schema"])
    assert set(envelope["properties"]) == {"items", "next_cursor"}
    assert envelope["properties"]["items"]["items"] == {"$ref": "#/components/schemas/UserRead"}
    user = spec["components"]["schemas"]["UserRead"]["properties"]
    assert user["email"]["type"] == "string"


async def test_the_checker_refuses_a_free_form_answer() -> None:
    spec: dict[str, Any] = {"components": {"schemas": {}}}
    assert _why_untyped(spec, {"type": "object", "additionalProperties": True}) is not None
    assert _why_untyped(spec, {"title": "Response"}) is not None
    assert _why_untyped(spec, {"type": "object", "properties": {"a": {"type": "string"}}}) is None
