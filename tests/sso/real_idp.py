"""A real `oidc-provider` (Node.js, pinned in scripts/install-oidc-provider.sh) on a local port,
configured by the test: one client and one account."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ROOT / "scripts" / "install-oidc-provider.sh"
SCRIPT = ROOT / "tests" / "fixtures" / "oidc" / "provider.mjs"


@dataclass(frozen=True)
class RealIdp:
    issuer: str
    client_id: str
    client_secret: str
    login: str


def _modules() -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed to run oidc-provider")
    done = subprocess.run([str(INSTALL)], capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"install-oidc-provider failed: {done.stderr.strip()[-500:]}")
    return Path(done.stdout.strip().splitlines()[-1])


@contextmanager
def real_idp(
    tmp_path: Path,
    *,
    port: int,
    redirect_uri: str,
    post_logout_uri: str,
    claims: dict[str, Any],
    login: str = "ada",
) -> Iterator[RealIdp]:
    issuer = f"http://127.0.0.1:{port}"
    idp = RealIdp(
        issuer=issuer, client_id="spectra", client_secret="oidc-test-secret-5678", login=login
    )
    config = {
        "module": str(_modules() / "oidc-provider" / "lib" / "index.js"),
        "port": port,
        "issuer": issuer,
        "client": {
            "client_id": idp.client_id,
            "client_secret": idp.client_secret,
            "redirect_uris": [redirect_uri],
            "post_logout_redirect_uris": [post_logout_uri],
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "client_secret_basic",
            "scope": "openid email profile groups",
        },
        "account": {"login": login, "claims": claims},
    }
    path = tmp_path / "oidc-provider.json"
    path.write_text(json.dumps(config))
    proc = subprocess.Popen(
        ["node", str(SCRIPT), str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(
                f"oidc-provider did not start: {proc.stderr.read() if proc.stderr else ''}"
            )
        yield idp
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
