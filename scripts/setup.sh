# shellcheck shell=bash
# Installation steps shared by scripts/test and scripts/demo; source it, don't run it.
#
# Installs what is missing and is silent when everything is already there:
#   - Debian packages for the interpreters and compilers the tests trace (php-cli, strace, nodejs, perl,
#     ruby, golang-go) and tcpdump, the reference for --packets;
#   - a virtual environment at .venv with the project installed editable with its test extras,
#     reinstalled when pyproject.toml changes (its hash is kept in .venv/.sctrace-installed).
# Expects `set -euo pipefail` from the caller; leaves the current directory at the repo root.

cd "$(dirname "${BASH_SOURCE[0]}")/.."

export PIP_DISABLE_PIP_VERSION_CHECK=1

_sctrace_as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        if [ -t 0 ]; then sudo "$@"; else sudo -n "$@"; fi
    else
        echo "setup: need root (or sudo) to run: $*" >&2
        return 1
    fi
}

_sctrace_apt_updated=0
_sctrace_apt_install() {
    local pkg=$1 log
    log=$(mktemp)
    if [ "$_sctrace_apt_updated" -eq 0 ]; then
        if ! _sctrace_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$log" 2>&1; then
            cat "$log" >&2; rm -f "$log"
            echo "setup: apt-get update failed" >&2
            return 1
        fi
        _sctrace_apt_updated=1
    fi
    echo "setup: installing Debian package $pkg"
    if ! _sctrace_as_root env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq --no-install-recommends "$pkg" >"$log" 2>&1; then
        cat "$log" >&2; rm -f "$log"
        echo "setup: apt-get install $pkg failed" >&2
        return 1
    fi
    rm -f "$log"
}

# command -> Debian package
for _sctrace_pair in php:php-cli strace:strace node:nodejs perl:perl ruby:ruby python3:python3 tcpdump:tcpdump go:golang-go; do
    if ! command -v "${_sctrace_pair%%:*}" >/dev/null 2>&1; then
        _sctrace_apt_install "${_sctrace_pair#*:}"
    fi
done
unset _sctrace_pair
# The HTML report is tested in a real headless browser: Debian's chromium (large: about 300 MB with what
# it pulls in). SCTRACE_BROWSER_TESTS=0 leaves it out; that test then skips and says why.
if [ "${SCTRACE_BROWSER_TESTS:-1}" = 1 ] && ! command -v chromium >/dev/null 2>&1; then
    _sctrace_apt_install chromium
fi

if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c '' >/dev/null 2>&1; then
    # Debian's python3 has no ensurepip until python3-venv is installed.
    if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
        _sctrace_apt_install python3-venv
    fi
    # `python3` may be a pyenv shim: ask it for the interpreter it really runs.
    _sctrace_python=$(python3 -c 'import sys; print(sys.executable)')
    rm -rf .venv
    "$_sctrace_python" -m venv .venv
    unset _sctrace_python
fi

_sctrace_hash=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat .venv/.sctrace-installed 2>/dev/null || true)" != "$_sctrace_hash" ]; then
    rm -f .venv/.sctrace-installed
    # compat mode: a path entry, not an import hook (which costs 30 ms at every start)
    .venv/bin/python -m pip install -q -e '.[test]' --config-settings editable_mode=compat
    echo "$_sctrace_hash" >.venv/.sctrace-installed
fi
unset _sctrace_hash
# Byte-compile the package, as a regular install does: where PYTHONDONTWRITEBYTECODE is set,
# every start would otherwise compile it anew (35 ms).
.venv/bin/python -m compileall -q sctrace >/dev/null

# Mermaid itself draws the --format mermaid diagram in the browser test (npm registry; pinned).
if [ "${SCTRACE_BROWSER_TESTS:-1}" = 1 ] && command -v npm >/dev/null 2>&1; then
    _sctrace_mermaid=.venv/mermaid/node_modules/mermaid/dist/mermaid.min.js
    if [ ! -f "$_sctrace_mermaid" ]; then
        npm install --prefix .venv/mermaid --no-audit --no-fund --silent mermaid@11.17.2 >/dev/null 2>&1 \
            || echo "setup: npm install mermaid failed; the Mermaid drawing test will skip" >&2
    fi
    if [ -f "$_sctrace_mermaid" ]; then
        SCTRACE_MERMAID_JS="$PWD/$_sctrace_mermaid"
        export SCTRACE_MERMAID_JS
    fi
    unset _sctrace_mermaid
fi
