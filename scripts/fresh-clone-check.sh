#!/usr/bin/env bash
# A newcomer's first hour, checked in CI: clone the repository into a temporary directory, install
# it, and run the commands that README.md and packages/cli/README.md show, in the order a newcomer
# would: `npx chatter --help` before anything is built, `npm run chat -- --help`, `npm start`, the
# README's shell examples (curl register / login / history, then `npx chatter send` and `tail`),
# and the terminal client signing up, sending and following. The first step that fails stops the
# check, naming the command and showing its output.
#
# It checks the committed HEAD (a clone sees nothing uncommitted). Run it after `npm ci` in the
# checkout: the clone installs from the npm cache that filled, and reuses the checkout's compiled
# native addons instead of compiling SQLite again (minutes, and nothing of ours is tested by it).
set -euo pipefail

src=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)
work=$(mktemp -d "${TMPDIR:-/tmp}/chatter-fresh-clone.XXXXXX")
repo="$work/chatter"
server_pid=
tail_pid=
sdk_pid=

cleanup() {
  # Only the process groups this script started (setsid below).
  for pid in $tail_pid $sdk_pid; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  if [ -n "$server_pid" ]; then kill -TERM -- "-$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

say() { echo "fresh-clone: $*"; }
fail() {
  echo "fresh-clone: FAILED: $1" >&2
  if [ -n "${2:-}" ] && [ -f "$2" ]; then sed -e 's/^/  | /' "$2" | tail -n 60 >&2; fi
  exit 1
}
# Run one documented command from the clone; its output goes to $out (and is shown if it fails).
out="$work/step.log"
run() {
  say "\$ $*"
  (cd "$repo" && "$@") >"$out" 2>&1 || fail "\`$*\` exited with $?" "$out"
}
expect() { # expect PATTERN DESCRIPTION: the last step's output matches
  grep -Eq -- "$1" "$out" || fail "expected $2 (/$1/) in the output of the last command" "$out"
}

started=$SECONDS
[ -d "$src/node_modules" ] || fail "run npm ci in $src first (the clone reuses its npm cache and native builds)"

say "cloning $src (HEAD) into $repo"
git clone -q --no-checkout "$src" "$repo"
git -C "$repo" fetch -q "$src" HEAD
git -C "$repo" checkout -q --detach FETCH_HEAD

# No native compile: the addons' build output comes from the checkout, which just built them for
# this machine. Everything else, bin links included, is what `npm ci` makes for a newcomer.
run npm ci --no-audit --no-fund --prefer-offline --ignore-scripts
for pkg in $(node -p "Object.keys(require('$repo/package.json').allowScripts ?? {}).join(' ')"); do
  if [ -d "$src/node_modules/$pkg/build" ]; then cp -a "$src/node_modules/$pkg/build" "$repo/node_modules/$pkg/"; fi
done
[ -e "$repo/node_modules/.bin/chatter" ] || fail "npm ci did not link node_modules/.bin/chatter (npx chatter would go to the registry)"

export CHATTER_CONFIG_DIR="$work/config"
# Nothing from the machine running CI may steer the commands.
unset CHATTER_SERVER CHATTER_TOKEN CHATTER_PORT CHATTER_DATA_DIR NO_COLOR

# packages/cli/README.md: right after npm install, nothing built yet.
run npx chatter --help
expect '^Usage: npx chatter \[command\]' 'the help, naming npx chatter'
run npm run chat -- --help
expect '^Usage: npm run chat -- \[command\]' 'the help, naming npm run chat --'

# README: npm start, here on an ephemeral port with its own data directory.
say "\$ CHATTER_PORT=0 CHATTER_DATA_DIR=$work/data npm start"
server_log="$work/server.log"
(cd "$repo" && CHATTER_PORT=0 CHATTER_DATA_DIR="$work/data" exec setsid npm start) >"$server_log" 2>&1 &
server_pid=$!
port=
for _ in $(seq 1 300); do
  port=$(sed -n 's/.*"msg":"Chatter listening on http:\/\/127\.0\.0\.1:\([0-9]*\)".*/\1/p' "$server_log" | head -n 1)
  [ -n "$port" ] && break
  kill -0 "$server_pid" 2>/dev/null || fail "npm start exited before listening" "$server_log"
  sleep 1
done
[ -n "$port" ] || fail "npm start did not say where it listens within 300 s" "$server_log"
[ -f "$work/data/chatter.db" ] || fail "npm start did not create its database in CHATTER_DATA_DIR" "$server_log"
say "server listening on port $port"
export CHATTER_SERVER="http://127.0.0.1:$port"

# README "Try it from a shell": its sh blocks as written, pointed at this server; curl fails on an
# HTTP error so a refused request stops the check.
doc="$work/readme-shell.sh"
{
  echo 'set -euo pipefail'
  echo 'curl() { command curl --fail-with-body --max-time 20 "$@"; echo; }'
  awk '/^## /{inside = ($0 == "## Try it from a shell")} inside && /^```sh$/{code=1; next} code && /^```$/{code=0; next} inside && code' "$src/README.md" |
    sed -e "s/localhost:8000/127.0.0.1:$port/g; s/127\.0\.0\.1:8000/127.0.0.1:$port/g"
  echo 'echo "TOKEN=${TOKEN:?the README example did not set TOKEN}" | cut -c1-12'
} >"$doc"
grep -q 'api/register' "$doc" || fail "README.md has no shell example under \"## Try it from a shell\" to check" "$doc"
run bash "$doc"
expect '"token":"' 'a token from /api/register'
expect '"messages":\[' 'the history of #general'
expect 'deploy finished' 'the message sent by npx chatter, read back by npx chatter tail'

# README's SDK example, as written (it runs until stopped): bob's message comes back to him once stored.
sdk_log="$work/sdk.log"
awk '/^## /{inside = ($0 == "## Try it from a shell")} inside && /^```ts$/{code=1; next} code && /^```$/{code=0; next} inside && code' "$src/README.md" |
  sed -e "s/127\.0\.0\.1:8000/127.0.0.1:$port/g" >"$repo/chat.mts"
grep -q 'ChatterClient' "$repo/chat.mts" || fail "README.md has no SDK example under \"## Try it from a shell\" to check" "$repo/chat.mts"
say "\$ node --import tsx chat.mts"
(cd "$repo" && exec setsid node --import tsx chat.mts) >"$sdk_log" 2>&1 &
sdk_pid=$!
for _ in $(seq 1 60); do
  grep -q 'bob: hi alice!' "$sdk_log" && break
  kill -0 "$sdk_pid" 2>/dev/null || break
  sleep 0.5
done
kill -TERM -- "-$sdk_pid" 2>/dev/null || true
wait "$sdk_pid" 2>/dev/null || true
sdk_pid=
grep -q 'bob: hi alice!' "$sdk_log" || fail "the README's SDK example (chat.mts) did not receive its own message" "$sdk_log"

# packages/cli/README.md "Getting started", with the answers piped (as its scripting note shows).
say "\$ printf '%s\\n' carol '...' | npx chatter register"
(cd "$repo" && printf '%s\n' carol 'correct horse battery' | npx chatter register) >"$out" 2>&1 || fail "npx chatter register exited with $?" "$out"
expect 'Run `npx chatter` to start chatting' 'the hint naming npx chatter'
run npx chatter whoami
expect '^carol on ' 'who is signed in'

# A follower, then a message: the follower prints it. The follower is known to be connected once it
# has printed the last message so far.
marker="fresh clone says hi $RANDOM$RANDOM"
follow_log="$work/tail.log"
say "\$ npx chatter tail --json -n 1 &"
(cd "$repo" && exec setsid npx chatter tail --json -n 1) >"$follow_log" 2>&1 &
tail_pid=$!
for _ in $(seq 1 60); do
  grep -q '"text":' "$follow_log" && break
  kill -0 "$tail_pid" 2>/dev/null || fail "npx chatter tail exited" "$follow_log"
  sleep 0.5
done
grep -q '"text":' "$follow_log" || fail "npx chatter tail --json -n 1 did not print the last message" "$follow_log"
run npm run chat -- send general "$marker"
for _ in $(seq 1 60); do
  grep -q "$marker" "$follow_log" && break
  kill -0 "$tail_pid" 2>/dev/null || fail "npx chatter tail exited" "$follow_log"
  sleep 0.5
done
grep -q "\"text\":\"$marker\"" "$follow_log" || fail "npx chatter tail did not print the message sent by npm run chat -- send" "$follow_log"
kill -TERM -- "-$tail_pid" 2>/dev/null || true
wait "$tail_pid" 2>/dev/null || true
tail_pid=
run npx chatter tail -n 3 --no-follow
expect "<carol> $marker" 'the message in tail'

say "ok: every documented command works from a fresh clone ($((SECONDS - started)) s)"
