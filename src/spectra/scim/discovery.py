"""What the SCIM service announces (RFC 7643 §5-7): its configuration, resource types and the
schemas of exactly the attributes Spectra keeps (so a client never writes what it would lose)."""

from __future__ import annotations

from typing import Any

from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Context,
    ETag,
    Filter,
    Group,
    Meta,
    Patch,
    Required,
    ResourceType,
    Schema,
    ServiceProviderConfig,
    Sort,
    User,
)

MAX_RESULTS = 200
"""The largest page a list answers (`count` above it is lowered to it)."""

_USER_ATTRIBUTES = {
    "userName": None,
    "displayName": None,
    "name": {"formatted"},
    "emails": {"value"},
    "active": None,
    "groups": {"value", "display", "$ref", "type"},
}
_GROUP_ATTRIBUTES = {"displayName": None, "members": {"value", "$ref"}}


def service_provider_config(base: str) -> dict[str, Any]:
    config = ServiceProviderConfig(
        documentation_uri=None,
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=MAX_RESULTS),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=False),
        authentication_schemes=[
            AuthenticationScheme(
                type="oauthbearertoken",
                name="SCIM token",
                description="Authorization: Bearer <token from `spectra scim token create`>",
                primary=True,
            )
        ],
        meta=Meta(resource_type="ServiceProviderConfig", location=f"{base}/ServiceProviderConfig"),
    )
    return config.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)


def resource_types(base: str) -> list[dict[str, Any]]:
    found = []
    for model in (User, Group):
        rtype = ResourceType.from_resource(model)
        rtype.meta = Meta(resource_type="ResourceType", location=f"{base}/ResourceTypes/{rtype.id}")
        found.append(rtype.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))
    return found


def schemas(base: str) -> list[dict[str, Any]]:
    found = []
    for model, keep in ((User, _USER_ATTRIBUTES), (Group, _GROUP_ATTRIBUTES)):
        schema: Schema = model.to_schema()
        kept = []
        for attribute in schema.attributes or []:
            if attribute.name not in keep:
                continue
            subs = keep[attribute.name]
            if subs is not None and attribute.sub_attributes:
                attribute.sub_attributes = [s for s in attribute.sub_attributes if s.name in subs]
            if attribute.name == "emails" and model is User:
                # Spectra needs an email for every user.
                attribute.required = Required.true
                for sub in attribute.sub_attributes or []:
                    sub.required = Required.true
            kept.append(attribute)
        schema.attributes = kept
        schema.meta = Meta(resource_type="Schema", location=f"{base}/Schemas/{schema.id}")
        found.append(schema.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))
    return found
