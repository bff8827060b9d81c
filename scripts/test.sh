#!/usr/bin/env bash
# Runs every test of Bulwark: Rust unit, property and integration tests (SQLite always,
# PostgreSQL too when TEST_DATABASE_URL is set) and the end-to-end tests that drive the real
# binary with the real ccxt client and headless Chromium, and a short run of every fuzz target.
# Installs what it needs: a Python venv with ccxt 4.5.70, Debian's chromium + chromium-driver (as
# root), anvil + solcjs from npm, and a nightly toolchain with cargo-fuzz.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== building"
cargo build --locked --bins

echo "== Rust tests"
cargo test --locked --workspace --all-targets

# Fuzzing with cargo-fuzz (libFuzzer, which needs a nightly toolchain): a short run of every
# target in fuzz/ over its checked-in corpus, on a copy so the checkout stays as it was. A crash
# fails the run and leaves the input in fuzz/artifacts/. Longer runs: docs/RELIABILITY.md.
# The short runs use an unoptimized build without the address sanitizer (debug assertions and
# overflow checks on): the API targets pull in most of the server, and its optimized sanitizer
# build alone took 10 of CI's minutes. Longer runs by hand use `-O` (optimized, sanitizer on).
if ! rustup toolchain list | grep -q '^nightly'; then
  echo "== installing a nightly toolchain for cargo-fuzz"
  rustup toolchain install nightly --profile minimal
fi
if ! command -v cargo-fuzz > /dev/null; then
  echo "== installing cargo-fuzz"
  cargo install --locked cargo-fuzz
fi
echo "== fuzzing (${FUZZ_SECONDS:-10} s per target)"
for target in $(cd fuzz && cargo +nightly fuzz list); do
  corpus="$(mktemp -d)"
  cp -r "fuzz/corpus/$target/." "$corpus/"
  if ! (cd fuzz && cargo +nightly fuzz run --dev -s none "$target" "$corpus" -- \
        -max_total_time="${FUZZ_SECONDS:-10}" > "$corpus.log" 2>&1); then
    tail -n 60 "$corpus.log"
    echo "fuzz target $target failed" >&2
    exit 1
  fi
  echo "$target: $(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "$corpus.log" | tail -1)"
  rm -rf "$corpus" "$corpus.log"
done

# The browser tests (tests/e2e/test_browser.py) drive Debian's headless Chromium via WebDriver.
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "== installing chromium and chromium-driver for the browser tests"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver
  else
    echo "== chromium missing and not root: the browser tests will be skipped"
  fi
fi

# The Ethereum adapter's tests (tests/e2e/test_ethereum.py) run against anvil, a local Ethereum
# node, and deploy a test ERC-20 compiled by solcjs: both come from the npm registry.
if [ ! -x .tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil ] || [ ! -x .tools/node_modules/.bin/solcjs ]; then
  echo "== installing anvil and solc (npm) for the Ethereum tests"
  mkdir -p .tools
  npm install --prefix .tools --silent --no-audit --no-fund @foundry-rs/anvil-linux-amd64@1.7.1 solc@0.8.28
fi
export ANVIL_BIN="$PWD/.tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
export SOLCJS_BIN="$PWD/.tools/node_modules/.bin/solcjs"

echo "== end-to-end tests (ccxt ${CCXT_VERSION:-4.5.70})"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check -r tests/e2e/requirements.txt
BULWARK_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/bulwark" .venv/bin/python -m pytest -q tests/e2e -p no:cacheprovider
