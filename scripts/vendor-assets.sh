#!/usr/bin/env bash
# Vendor the pinned front-end assets of the web pages into src/rekomendasi/ui/static/vendor/.
#
# Run by hand when a pin below changes; the result is committed, so the pages work offline and nothing is
# fetched at run time (nor by `make setup`). Each package is fetched from the npm registry with `npm pack`
# into a temporary directory, its tarball checked against the pinned integrity (the registry's sha512, so
# a changed or substituted tarball stops the script), unpacked, and the listed files and the package's
# licence copied. VERSIONS.txt then lists package, version, file and sha256 of every vendored file.
# The same pins give byte-identical files: running it again changes nothing.
#
#   scripts/vendor-assets.sh          fetch and (re)write the vendored files
#   scripts/vendor-assets.sh --check  only check the vendored files against VERSIONS.txt (offline)
set -euo pipefail

cd "$(dirname "$0")/.."
DEST=src/rekomendasi/ui/static/vendor

# package  version  integrity (npm's dist.integrity)  [file in the package => vendored name]...
# htmx: latest 2.x; uPlot: latest 1.6.x; axe-core: latest 4.x (only the tests inject it into pages).
PACKAGES=(
	"htmx.org 2.0.11 sha512-Thx/WtpeOQqSrqBCw/A1cwGJGg4UrVa3+sW0GmrM3p4gJgO89ecH4qtbnyzDDWFvBTqjnIMCgELTNt636dtamA==
		dist/htmx.min.js=>htmx.min.js LICENSE=>htmx.LICENSE"
	"uplot 1.6.32 sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw==
		dist/uPlot.iife.min.js=>uPlot.iife.min.js dist/uPlot.min.css=>uPlot.min.css LICENSE=>uPlot.LICENSE"
	"axe-core 4.14.1 sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ==
		axe.min.js=>axe.min.js LICENSE=>axe-core.LICENSE LICENSE-3RD-PARTY.txt=>axe-core.LICENSE-3RD-PARTY.txt"
)

if [ "${1:-}" = "--check" ]; then
	# VERSIONS.txt lines: package version file sha256 (comments start with #).
	grep -v '^#' "$DEST/VERSIONS.txt" | awk -v dir="$DEST" '{ print $4 "  " dir "/" $3 }' | sha256sum --check --quiet
	echo "vendored assets match $DEST/VERSIONS.txt"
	exit 0
fi

command -v npm >/dev/null 2>&1 || {
	echo "vendor-assets: npm is needed (it fetches the pinned packages from the npm registry)" >&2
	exit 1
}

# The base64 sha512 of a file, as npm writes integrity ("sha512-...").
integrity_of() {
	python3 -c 'import base64, hashlib, sys; print("sha512-" + base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode())' "$1"
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
staged="$work/vendor"
mkdir -p "$staged"
versions="$staged/VERSIONS.txt"
{
	echo "# Written by scripts/vendor-assets.sh from the npm registry; do not edit (change the pins there)."
	echo "# package	version	file	sha256"
} >"$versions"

for entry in "${PACKAGES[@]}"; do
	read -r name version integrity mappings <<<"$(echo "$entry" | tr '\n\t' '  ')"
	echo "fetching $name@$version"
	mkdir -p "$work/$name"
	tarball="$(cd "$work/$name" && npm pack --silent --ignore-scripts "$name@$version" | tail -n 1)"
	got="$(integrity_of "$work/$name/$tarball")"
	if [ "$got" != "$integrity" ]; then
		echo "vendor-assets: $name@$version: integrity $got, pinned $integrity; not vendoring it" >&2
		exit 1
	fi
	tar -xzf "$work/$name/$tarball" -C "$work/$name"
	for mapping in $mappings; do
		source="$work/$name/package/${mapping%%=>*}"
		target="${mapping##*=>}"
		if [ ! -f "$source" ]; then
			echo "vendor-assets: $name@$version has no ${mapping%%=>*}" >&2
			exit 1
		fi
		install -m 0644 "$source" "$staged/$target"
		printf '%s\t%s\t%s\t%s\n' "$name" "$version" "$target" "$(sha256sum "$staged/$target" | cut -d' ' -f1)" >>"$versions"
	done
done

# Replace the vendored files only once everything was fetched and checked (the ones of the old pins too).
mkdir -p "$DEST"
if [ -f "$DEST/VERSIONS.txt" ]; then
	grep -v '^#' "$DEST/VERSIONS.txt" | cut -f3 | while read -r old; do rm -f "$DEST/$old"; done
fi
cp -p "$staged"/* "$DEST"/
echo "vendored into $DEST:"
grep -v '^#' "$DEST/VERSIONS.txt"
