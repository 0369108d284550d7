#!/bin/sh
# Vendors htmx into connector/static/vendor/ from the npm package htmx.org, at the pinned
# version: the minified build (with a one-line header naming its version and licence) and its
# licence text. Run it to upgrade (change VERSION), then commit both files.
set -eu
VERSION=2.0.11
HERE=$(cd "$(dirname "$0")/.." && pwd)
OUT="$HERE/connector/static/vendor"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
(cd "$WORK" && npm pack --silent "htmx.org@$VERSION" >/dev/null && tar xzf "htmx.org-$VERSION.tgz")
mkdir -p "$OUT"
{
  printf '/*! htmx %s (npm htmx.org@%s), licence 0BSD: see htmx.LICENSE */\n' "$VERSION" "$VERSION"
  cat "$WORK/package/dist/htmx.min.js"
} > "$OUT/htmx.min.js"
cp "$WORK/package/LICENSE" "$OUT/htmx.LICENSE"
echo "htmx $VERSION vendored into $OUT"
