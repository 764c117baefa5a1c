"""Single sign-on through OpenID Connect: provider settings, the sign-in flow and just-in-time
provisioning. `from spectra.users.sso import service as sso_service`."""
