#!/bin/bash
# kget push into file:// stores, and into a real kget-registry ($KGET_REGISTRY) started here.
. "$(dirname "$0")/lib.sh"
unset KGET_ENDPOINT HF_ENDPOINT KGET_TOKEN HF_TOKEN
work=$(mktemp -d)
registry_pid=""
cleanup() {
  if [ -n "$registry_pid" ]; then
    kill "$registry_pid" 2>/dev/null
    wait "$registry_pid" 2>/dev/null
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# make_variant PARENT NAME LIBRARY_BYTES: PARENT/NAME/ with libdemo.so and a metadata.json (the
# demo fixture's for NAME) listing the library's sha256.
make_variant() {
  local dir="$1/$2"
  mkdir -p "$dir"
  printf '%s' "$3" >"$dir/libdemo.so"
  local digest
  digest=$(openssl dgst -sha256 -binary "$dir/libdemo.so" | base64)
  sed "s#yj/56wyj51lVe0/Q2CU53BGR355R6dEPFcyQBhBlYag=#$digest#" \
    "$FIXTURES/kernels/demo/build/$2/metadata.json" >"$dir/metadata.json"
}

# make_kernel DIR LIBRARY_BYTES: a kernel directory with a CPU and a CUDA variant.
make_kernel() {
  make_variant "$1/build" kget1-cpu-x86_64-linux "$2 (cpu)"
  make_variant "$1/build" kget1-cu130-x86_64-linux "$2 (cu130)"
}

blob_count() { find "$1/blobs" -type f 2>/dev/null | wc -l; }

make_kernel "$work/k1" "release one"
make_kernel "$work/k2" "release two"
store="$work/store"

# A push into a new store: it is created, and every file lands under build/<variant>/.
run "$KGET" push "$work/k1" --repo acme/demo --version 1.2.0 --to "file://$store" --message "first"
expect_exit 0
expect_line 1 "pushed acme/demo 1.2.0 to file://$store"
expect_out "branch    v1 (and main)"
expect_out "tag       v1.2.0"
expect_out "kget1-cpu-x86_64-linux (2 files)"
expect_out "files     4"
expect_out "uploaded  4 blobs"
commit=$(printf '%s\n' "$out" | sed -n 's/^  commit    //p')
[ ${#commit} = 40 ]; report $? "a 40-hex commit id is printed (got: $commit)"
[ -f "$store/kget-store.json" ]; report $? "the store was created"
library_sha=$(sha256sum "$work/k1/build/kget1-cpu-x86_64-linux/libdemo.so" | cut -d' ' -f1)
found=$(find "$store/blobs" -name "$library_sha" -type f | head -1)
[ -n "$found" ] && cmp -s "$found" "$work/k1/build/kget1-cpu-x86_64-linux/libdemo.so"
report $? "the library's bytes are in the store under its sha256"
grep -q '"v1.2.0"' "$store/repos/acme/demo/refs.json"; report $? "the tag v1.2.0 exists"

# The same version again: nothing changes.
cp "$store/repos/acme/demo/refs.json" "$work/refs.before"
run "$KGET" push "$work/k1" --repo acme/demo --version 1.2.0 --to "file://$store" --json
expect_exit 0
expect_out '"created": false'
expect_out "\"commit\": \"$commit\""
expect_out '"blobs_uploaded": 0'
expect_out '"blobs_present": 4'
run "$KGET" push "$work/k1" --repo acme/demo --version 1.2.0 --to "file://$store"
expect_exit 0
expect_line 1 "acme/demo 1.2.0 is already published (identical)"

# The same version with other files: a conflict, and the store is left as it was.
blobs_before=$(blob_count "$store")
run "$KGET" push "$work/k2" --repo acme/demo --version 1.2.0 --to "file://$store"
expect_exit 13
expect_err "version 1.2.0 of acme/demo is already published as commit $commit with other files"
[ "$(blob_count "$store")" = "$blobs_before" ]; report $? "a conflict writes no blob"
cmp -s "$store/repos/acme/demo/refs.json" "$work/refs.before"; report $? "a conflict moves no ref"

# A new version through KGET_ENDPOINT, sharing nothing.
run env KGET_ENDPOINT="file://$store" "$KGET" push "$work/k2" --repo acme/demo --version 1.3.0
expect_exit 0
expect_line 1 "pushed acme/demo 1.3.0"

# A tampered file: exit 9 naming it, and nothing written anywhere.
make_kernel "$work/bad" "bad"
printf 'tampered' >"$work/bad/build/kget1-cu130-x86_64-linux/libdemo.so"
blobs_before=$(blob_count "$store")
run "$KGET" push "$work/bad" --repo acme/demo --version 1.4.0 --to "file://$store"
expect_exit 9
expect_err "$work/bad/build/kget1-cu130-x86_64-linux/libdemo.so: metadata.json lists sha256"
expect_err "but the file's is"
[ "$(blob_count "$store")" = "$blobs_before" ]; report $? "a digest mismatch writes no blob"
grep -q '"v1.4.0"' "$store/repos/acme/demo/refs.json"; [ $? != 0 ]; report $? "no v1.4.0 tag"
run "$KGET" push "$work/bad" --repo acme/demo --version 1.4.0 --to "file://$work/never"
expect_exit 9
[ ! -e "$work/never" ]; report $? "a failed check creates no store"

# A file the metadata does not list.
make_kernel "$work/extra" "extra"
printf 'x' >"$work/extra/build/kget1-cpu-x86_64-linux/notes.txt"
run "$KGET" push "$work/extra" --repo acme/demo --version 1.4.0 --to "file://$store"
expect_exit 9
expect_err "notes.txt: not listed in metadata.json's digest.files"

# Bad metadata, a PyTorch variant, a missing directory, a symlink out of the variant.
make_kernel "$work/badmeta" "m"
printf '{"name": "demo"}' >"$work/badmeta/build/kget1-cpu-x86_64-linux/metadata.json"
run "$KGET" push "$work/badmeta" --repo acme/demo --version 1.4.0 --to "file://$store"
expect_exit 7
expect_err "kget1-cpu-x86_64-linux: metadata.json \$.version: missing"
run "$KGET" push "$FIXTURES/kernels/demo/build/torch28-cxx11-cu128-x86_64-linux" --repo acme/demo \
  --version 1.4.0 --to "file://$store"
expect_exit 2
expect_err "built for PyTorch/Python"
run "$KGET" push "$work/nonexistent" --repo acme/demo --version 1.4.0 --to "file://$store"
expect_exit 5
expect_err "$work/nonexistent is not a directory"
make_kernel "$work/link" "l"
printf 'outside' >"$work/outside.so"
ln -s "$work/outside.so" "$work/link/build/kget1-cpu-x86_64-linux/extra.so"
run "$KGET" push "$work/link" --repo acme/demo --version 1.4.0 --to "file://$store"
expect_exit 2
expect_err "outside the variant directory"
run "$KGET" push "$work/k1" "$work/k1/build/kget1-cpu-x86_64-linux" --repo acme/demo \
  --version 1.4.0 --to "file://$store"
expect_exit 2
expect_err "variant kget1-cpu-x86_64-linux is given twice"
run "$KGET" push "$work/k1" --repo acme/demo --version 2.0.0 --to "file://$store"
expect_exit 2
expect_err "metadata.json says major version 1 (branch v1), but version 2.0.0 goes on branch v2"

# Arguments.
run "$KGET" push "$work/k1" --version 1.2.0 --to "file://$store"
expect_exit 2
expect_err "--repo is required"
run "$KGET" push "$work/k1" --repo acme/demo --to "file://$store"
expect_exit 2
expect_err "--version is required"
run "$KGET" push --repo acme/demo --version 1.2.0 --to "file://$store"
expect_exit 2
run "$KGET" push "$work/k1" --repo acme/demo --version 1.2 --to "file://$store"
expect_exit 3
expect_err "invalid version \"1.2\""
run "$KGET" push "$work/k1" --repo acme --version 1.2.0 --to "file://$store"
expect_exit 3
expect_err "the org is missing"
run "$KGET" push "$work/k1" --repo acme/demo --version 1.2.0 --to "ftp://example.com/store"
expect_exit 2
expect_err "--to: \"ftp://example.com/store\": unsupported destination"
run "$KGET" push "$work/k1" --repo acme/demo --version 1.2.0 --to "$store"
expect_exit 2
expect_err "for a store write file://$store"
run "$KGET" push "$work/k1" --repo acme/demo --version 1.2.0
expect_exit 2
expect_err "give --to URL"
run env KGET_ENDPOINT=ftp://example.com "$KGET" push "$work/k1" --repo acme/demo --version 1.2.0
expect_exit 4
expect_err "KGET_ENDPOINT: \"ftp://example.com\": unsupported destination"

# --- through kget-registry ------------------------------------------------------------------------
if [ -z "${KGET_REGISTRY:-}" ] || [ ! -x "$KGET_REGISTRY" ]; then
  echo "note: KGET_REGISTRY is not set; skipping the kget-registry tests"
  finish
  exit
fi

served="$work/served"
printf 'right-token\n' >"$work/tokens"
"$KGET_REGISTRY" --root "$served" --listen 127.0.0.1:0 --token-file "$work/tokens" \
  --access-log "$work/access.log" >"$work/registry.out" 2>"$work/registry.err" &
registry_pid=$!
url=""
for _ in $(seq 100); do
  url=$(sed -n '1s/^kget-registry: listening on \(http:[^ ]*\) .*/\1/p' "$work/registry.out")
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ]; report $? "kget-registry started (stderr: $(cat "$work/registry.err"))"

# Without a token, or with the wrong one: exit 14 and nothing stored.
run "$KGET" push "$work/k1" --repo acme/demo --version 1.2.0 --to "$url"
expect_exit 14
expect_err "set KGET_TOKEN or --token"
run "$KGET" push "$work/k1" --repo acme/demo --version 1.2.0 --to "$url" --token wrong-token
expect_exit 14
expect_err "refused the token"
[ "$(blob_count "$served")" = 0 ]; report $? "a refused push stores no blob"
[ ! -e "$served/repos/acme/demo/refs.json" ]; report $? "a refused push creates no version"

# With the token (from KGET_TOKEN): published, and the store holds exactly these files, which a
# file:// push of the same version confirms by changing nothing.
run env KGET_TOKEN=right-token "$KGET" push "$work/k1" --repo acme/demo --version 1.2.0 --to "$url"
expect_exit 0
expect_line 1 "pushed acme/demo 1.2.0 to $url"
expect_out "uploaded  4 blobs"
run "$KGET" push "$work/k1" --repo acme/demo --version 1.2.0 --to "file://$served"
expect_exit 0
expect_line 1 "already published (identical)"
run "$KGET" push "$work/k1" --repo acme/demo --version 1.2.0 --to "$url" --token right-token
expect_exit 0
expect_line 1 "already published (identical)"
expect_out "uploaded  0 blobs (0 B), 4 already present"
run "$KGET" push "$work/k2" --repo acme/demo --version 1.2.0 --to "$url" --token right-token
expect_exit 13

# Two pushes of two versions at once both land.
make_kernel "$work/k3" "release three"
"$KGET" push "$work/k2" --repo acme/demo --version 1.3.0 --to "$url" --token right-token \
  >"$work/p1.out" 2>&1 &
first=$!
"$KGET" push "$work/k3" --repo acme/demo --version 1.4.0 --to "$url" --token right-token \
  >"$work/p2.out" 2>&1 &
second=$!
wait $first; first_code=$?
wait $second; second_code=$?
[ "$first_code" = 0 ] && [ "$second_code" = 0 ]
report $? "concurrent pushes both succeed ($(cat "$work/p1.out" "$work/p2.out"))"
run "$KGET" push "$work/k2" --repo acme/demo --version 1.3.0 --to "file://$served"
expect_exit 0
expect_line 1 "already published (identical)"
run "$KGET" push "$work/k3" --repo acme/demo --version 1.4.0 --to "file://$served"
expect_exit 0
expect_line 1 "already published (identical)"
run "$KGET_REGISTRY" fsck --root "$served"
expect_exit 0

finish
