#!/usr/bin/env bash
# Install the pinned `oidc-provider` (the certified Node.js OpenID provider) that the SSO tests
# run as a real identity provider. From the npm registry only; idempotent and fast (no npm call)
# when the pinned version is in place; serialised with flock for pytest-xdist workers.
#
#   SPECTRA_OIDC_DIR   install prefix (default: <repo>/.cache/oidc-provider)
set -euo pipefail

OIDC_PROVIDER_VERSION="9.13.3"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="${SPECTRA_OIDC_DIR:-$repo_root/.cache/oidc-provider}"
mkdir -p "$prefix"
prefix="$(cd "$prefix" && pwd)"

command -v node >/dev/null || { echo "install-oidc-provider: node is not on PATH" >&2; exit 1; }
command -v npm >/dev/null || { echo "install-oidc-provider: npm is not on PATH" >&2; exit 1; }

installed() {
    node -e "process.exit(require('$prefix/node_modules/oidc-provider/package.json').version === '$OIDC_PROVIDER_VERSION' ? 0 : 1)" 2>/dev/null
}

exec 9>"$prefix/.install.lock"
flock 9

if ! installed; then
    npm install --prefix "$prefix" --no-save --no-audit --no-fund --no-package-lock \
        --loglevel=error --update-notifier=false "oidc-provider@$OIDC_PROVIDER_VERSION" >&2
    installed || { echo "install-oidc-provider: oidc-provider $OIDC_PROVIDER_VERSION missing after install" >&2; exit 1; }
fi
echo "$prefix/node_modules"
