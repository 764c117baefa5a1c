"""Second factors: TOTP with recovery codes, passkeys (WebAuthn), and step-up re-authentication."""
