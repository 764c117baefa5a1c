"""The local actor (`local:<os user>`, owner rights) exists only inside the `spectra` command's
own in-process app: no request over the network, whatever it sends, can act as it."""

from __future__ import annotations

import getpass
from pathlib import Path

import httpx
import pytest
from tests.cli.conftest import Cli

import spectra.api
from spectra.api.deps import get_actor
from spectra.app import create_app
from spectra.runtime import Runtime

CLAIMS: list[dict[str, str]] = [
    {},
    {"authorization": "Bearer local"},
    {"authorization": f"Bearer local:{getpass.getuser()}"},
    {"authorization": "Local root"},
    {"x-api-key": "local"},
    {"x-spectra-actor": f"local:{getpass.getuser()}", "x-actor": "local"},
    {"cookie": "spectra_session=local"},
    {"x-forwarded-for": "127.0.0.1", "x-real-ip": "127.0.0.1", "forwarded": "for=127.0.0.1"},
]


@pytest.mark.parametrize("headers", CLAIMS)
def test_a_network_request_cannot_act_as_the_local_actor(
    served: Cli, headers: dict[str, str]
) -> None:
    assert served.server is not None
    with httpx.Client(base_url=served.server, headers=headers, timeout=30) as client:
        created = client.post("/api/groups", json={"name": "Hijacked"})
        listed = client.get("/api/users")
    assert (created.status_code, listed.status_code) == (401, 401), created.text
    # The same server does answer a real token; the group was never written.
    refused = served.remote("groups", "show", "Hijacked")
    assert refused.code == 3
    assert not any(e["actor_label"].startswith("local:") for e in _events_over_http(served))


def _events_over_http(cli: Cli) -> list[dict[str, str]]:
    page = cli.remote("audit", "list", "--action", "groups.*", "--json").json
    return list(page["items"])


def test_the_local_caller_lives_only_on_the_clis_own_app(cli: Cli, runtime: Runtime) -> None:
    cli.ok("groups", "create", "Local")
    events = cli.ok("audit", "list", "--action", "groups.*", "--json")["items"]
    assert [e["actor_label"] for e in events] == [f"local:{getpass.getuser()}"]
    # A served app (built the normal way) carries no override of the API's caller ...
    assert get_actor not in create_app(runtime).dependency_overrides
    # ... and the REST API itself never names the local actor.
    api_dir = Path(spectra.api.__file__).parent
    assert not [p for p in api_dir.rglob("*.py") if "local_actor" in p.read_text()]
