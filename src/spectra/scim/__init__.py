"""Surface: SCIM 2.0 directory provisioning at /scim/v2 (RFC 7643/7644), for identity providers."""
