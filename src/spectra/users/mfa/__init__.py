"""Second factors: TOTP with recovery codes, and step-up re-authentication."""
