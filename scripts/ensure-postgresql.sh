#!/usr/bin/env bash
# Make sure the PostgreSQL server binaries (initdb, pg_ctl) exist for the test suite's throwaway cluster.
#
# Run by `make setup`. Debian keeps the binaries in /usr/lib/postgresql/<version>/bin, off PATH, so look
# there as well as in `pg_config --bindir` and on PATH. When they are missing and we are root, install
# Debian's `postgresql` non-interactively, without the default `main` cluster (the tests start their own).
# When not root (or apt-get fails), print a loud warning and succeed: the PostgreSQL tests then skip with
# a reason in the pytest summary (or fail, with REKOMENDASI_TEST_REQUIRE_POSTGRES=1).
set -euo pipefail

find_bindir() {
	local dir
	if command -v pg_config >/dev/null 2>&1; then
		dir="$(pg_config --bindir 2>/dev/null || true)"
		if [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
			echo "$dir"
			return 0
		fi
	fi
	# The newest installed version first.
	for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
			echo "$dir"
			return 0
		fi
	done
	if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
		dirname "$(command -v initdb)"
		return 0
	fi
	return 1
}

warn() {
	echo "" >&2
	echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
	echo "!! WARNING: $*" >&2
	echo "!! The PostgreSQL tests of the state store will be SKIPPED. Install Debian's postgresql" >&2
	echo "!! (sudo apt-get install --no-install-recommends postgresql) and run make setup again." >&2
	echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
	echo "" >&2
}

if dir="$(find_bindir)"; then
	echo "PostgreSQL server binaries: $dir"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	warn "PostgreSQL server binaries (initdb, pg_ctl) not found and not root, so not installing them."
	exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
	warn "PostgreSQL server binaries (initdb, pg_ctl) not found and no apt-get to install them."
	exit 0
fi

echo "PostgreSQL server binaries not found: installing Debian's postgresql (apt-get)"
# No `main` cluster on port 5432: the tests start their own throwaway clusters (Debian's README.Debian).
if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
	mkdir -p /etc/postgresql-common
	echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.conf
fi
# Keep our createcluster.conf when the package (ucf) offers its own, without asking.
export DEBIAN_FRONTEND=noninteractive UCF_FORCE_CONFFOLD=1
if apt-get update -q && apt-get install -y -q --no-install-recommends \
	-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold postgresql; then
	if dir="$(find_bindir)"; then
		echo "PostgreSQL server binaries: $dir"
		exit 0
	fi
	warn "apt-get installed postgresql but initdb/pg_ctl are still not found."
	exit 0
fi
warn "apt-get could not install postgresql (no network or no Debian registry?)."
exit 0
