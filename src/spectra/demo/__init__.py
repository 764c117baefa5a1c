"""`spectra demo`: a built-in fake upstream, the workspace of SCENARIOS.md and 30 days of history.

A top-level helper like `spectra.bootstrap`: it calls the domains' services (and the gateway, for
the synthetic traffic); no domain imports it.
"""
