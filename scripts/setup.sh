# shellcheck shell=bash
# Installation steps shared by scripts/test and scripts/demo; source it, don't run it.
#
# Installs what is missing and is silent when everything is already there:
#   - Debian packages for the interpreters and compilers the tests trace (php-cli, strace, nodejs, perl,
#     ruby, golang-go) and tcpdump, the reference for --packets. Only root installs them: anyone else
#     is told the `sudo apt-get install` command to run, and setup stops there;
#   - a virtual environment at .venv with the project installed editable with its test extras,
#     reinstalled when pyproject.toml changes (its hash is kept in .venv/.sctrace-installed).
# Expects `set -euo pipefail` from the caller; leaves the current directory at the repo root.

cd "$(dirname "${BASH_SOURCE[0]}")/.."

export PIP_DISABLE_PIP_VERSION_CHECK=1

# Debian packages missing here, installed below by root; anyone else is told the one command to run.
_sctrace_missing=()
# command -> Debian package
for _sctrace_pair in php:php-cli strace:strace node:nodejs perl:perl ruby:ruby python3:python3 tcpdump:tcpdump go:golang-go; do
    if ! command -v "${_sctrace_pair%%:*}" >/dev/null 2>&1; then
        _sctrace_missing+=("${_sctrace_pair#*:}")
    fi
done
unset _sctrace_pair
# The HTML report is tested in a real headless browser: Debian's chromium (large: about 300 MB with what
# it pulls in). SCTRACE_BROWSER_TESTS=0 leaves it out; that test then skips and says why.
if [ "${SCTRACE_BROWSER_TESTS:-1}" = 1 ] && ! command -v chromium >/dev/null 2>&1; then
    _sctrace_missing+=(chromium)
fi
# Debian's python3 has no ensurepip until python3-venv is installed; only needed to make .venv.
if { [ ! -x .venv/bin/python ] || ! .venv/bin/python -c '' >/dev/null 2>&1; } \
        && ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    _sctrace_missing+=(python3-venv)
fi

if [ "${#_sctrace_missing[@]}" -ne 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        # Installing needs root: say how, and stop (sudo may ask for a password a script should not ask for).
        echo "setup: missing Debian packages; install them as root, then run this again:" >&2
        echo "    sudo apt-get install --no-install-recommends ${_sctrace_missing[*]}" >&2
        case " ${_sctrace_missing[*]} " in
            *" chromium "*) echo "setup: SCTRACE_BROWSER_TESTS=0 leaves chromium out (only a browser test needs it)" >&2 ;;
        esac
        return 1
    fi
    _sctrace_log=$(mktemp)
    if ! env DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$_sctrace_log" 2>&1; then
        cat "$_sctrace_log" >&2; rm -f "$_sctrace_log"
        echo "setup: apt-get update failed" >&2
        return 1
    fi
    for _sctrace_pkg in "${_sctrace_missing[@]}"; do
        echo "setup: installing Debian package $_sctrace_pkg"
        if ! env DEBIAN_FRONTEND=noninteractive \
                apt-get install -y -qq --no-install-recommends "$_sctrace_pkg" >"$_sctrace_log" 2>&1; then
            cat "$_sctrace_log" >&2; rm -f "$_sctrace_log"
            echo "setup: apt-get install $_sctrace_pkg failed" >&2
            return 1
        fi
    done
    rm -f "$_sctrace_log"
    unset _sctrace_log _sctrace_pkg
fi
unset _sctrace_missing

if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c '' >/dev/null 2>&1; then
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
