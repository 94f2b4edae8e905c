#!/usr/bin/env bash
# Ward's PKI walk-through: build `ward`, create a fleet and a site, issue a camera
# credential, verify it, revoke it, and watch verification fail. Everything is written to a
# fresh directory (default: ./ward-demo), which the script refuses to reuse.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
demo=${1:-ward-demo}
if [ -e "$demo" ]; then
  echo "$demo already exists; remove it or name another directory" >&2
  exit 2
fi

cargo build --release --quiet --manifest-path "$repo/Cargo.toml" -p ward-node
ward="$repo/target/release/ward"
mkdir -p "$demo"
cd "$demo"

step() { printf '\n$ ward %s\n' "$*"; "$ward" "$@"; }

step fleet init --name demo-fleet --dir fleet
step site init --name site-a --fleet fleet
step cert issue --role camera --subject cam-0001 --ca site-a \
  --scope stream:publish --scope api:events --out cam-0001
step cert inspect cam-0001.cwt
step cert verify cam-0001.cwt --bundle site-a --role camera --scope stream:publish
step revoke --ca site-a --cert cam-0001.cwt --reason key-compromise --out cam-0001.rev
printf '\n$ ward cert verify cam-0001.cwt --bundle site-a --revocation cam-0001.rev\n'
if "$ward" cert verify cam-0001.cwt --bundle site-a --revocation cam-0001.rev; then
  echo "the revoked credential was accepted: this is a bug" >&2
  exit 1
fi
printf '\nThe revoked camera is refused (exit code 1). Files are in %s.\n' "$(pwd)"
