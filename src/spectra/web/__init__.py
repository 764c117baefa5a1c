"""Request helpers shared by the HTTP surfaces (API, console): below them, above the domains.

They need Starlette's request and response but no surface: the runtime and units of work of a
request (`deps`), and what a completed sign-in leaves in the browser (`signin`: the secure-cookie
decision, the session and device cookies). Domains never import this package; surfaces may.
"""
