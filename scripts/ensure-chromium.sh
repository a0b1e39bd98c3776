#!/usr/bin/env bash
# Make sure a Chromium browser exists for the browser tests of the web pages (tests/ui).
#
# Run by `make setup`. Playwright drives the system's Chromium (`playwright install` would download its own
# build, which this project does not do), so look for `chromium` (Debian) or `chromium-browser` on PATH.
# When missing and we are root, install Debian's chromium and a font non-interactively. When not root (or
# apt-get fails), print a loud warning and succeed: the browser tests then skip with a reason in the
# pytest summary (or fail, with REKOMENDASI_TEST_REQUIRE_BROWSER=1).
set -euo pipefail

find_chromium() {
	local name
	for name in chromium chromium-browser; do
		if command -v "$name" >/dev/null 2>&1; then
			command -v "$name"
			return 0
		fi
	done
	return 1
}

warn() {
	echo "" >&2
	echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
	echo "!! WARNING: $*" >&2
	echo "!! The browser tests of the web pages (tests/ui) will be SKIPPED. Install Debian's chromium" >&2
	echo "!! (sudo apt-get install --no-install-recommends chromium fonts-dejavu-core) and run make" >&2
	echo "!! setup again." >&2
	echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
	echo "" >&2
}

if path="$(find_chromium)"; then
	echo "Chromium: $path"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	warn "Chromium (chromium or chromium-browser) not found on PATH and not root, so not installing it."
	exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
	warn "Chromium (chromium or chromium-browser) not found on PATH and no apt-get to install it."
	exit 0
fi

echo "Chromium not found: installing Debian's chromium and fonts-dejavu-core (apt-get)"
export DEBIAN_FRONTEND=noninteractive
if apt-get update -q && apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core; then
	if path="$(find_chromium)"; then
		echo "Chromium: $path"
		exit 0
	fi
	warn "apt-get installed chromium but neither chromium nor chromium-browser is on PATH."
	exit 0
fi
warn "apt-get could not install chromium (no network or no Debian registry?)."
exit 0
