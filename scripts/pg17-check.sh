#!/usr/bin/env bash
# Compiles every C source of the extension against PostgreSQL 17's server
# headers, with the Makefile's own flags (17's PGXS flags, PG_CPPFLAGS,
# PG_CFLAGS) and -Werror.  The extension is built and tested on PostgreSQL 15 and keeps to APIs that
# 16 and 17 have too (src/common/pgcompat.h); this shows that it compiles
# on 17.  Nothing runs against 17: it is a compile check only.
#
#   scripts/pg17-check.sh [SOURCE_DIR]      (default: this checkout)
#
# The headers are Debian trixie's postgresql-server-dev-17 and libpq-dev,
# downloaded once with apt-get (a private apt configuration under
# .build/pg17, the machine's own Debian mirror, suite trixie) and unpacked
# there with dpkg -x; nothing is installed.  Delete .build/pg17 to fetch the
# current packages again.  A failed download fails the check.
#
# Debian trixie's pg_config.h says <string.h> declares strlcpy and strlcat
# (glibc 2.38); bookworm's glibc 2.36 does not, so with an older glibc the
# check force-includes a header that declares them, as port.h would on such
# a system.  That is an artefact of compiling one distribution's headers on
# another, not something the code should handle.
#
# Environment: PG_CONFIG (the PostgreSQL 15 pg_config whose PGXS builds the
# extension), EC_BUILD, EC_DEBIAN_MIRROR (default: the mirror apt uses for
# this system's release).
set -u
. "$(dirname "$0")/lib.sh"

SRC=$(cd "${1:-$EC_ROOT}" && pwd)
EC_BUILD=${EC_BUILD:-$EC_ROOT/.build}
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/$EC_PGVER/bin/pg_config}
P=$EC_BUILD/pg17
PACKAGES="postgresql-server-dev-17 libpq-dev"
SUITE=trixie

[ -x "$PG_CONFIG" ] || ec_die "pg17-check: no pg_config at $PG_CONFIG (PostgreSQL $EC_PGVER's, for PGXS)"
mkdir -p "$P"
# Run as root, leave the folder to the unprivileged user scripts/test.sh runs this as.
if [ "$(id -u)" = 0 ] && id "$EC_OS_USER" >/dev/null 2>&1; then
	trap 'chown -R "$EC_OS_USER" "$P"' EXIT
fi

# The .debs, fetched with apt-get from the Debian trixie suite.
pg17_fetch() {
	local apt=$P/apt mirror codename arch
	local -a opts
	mirror=${EC_DEBIAN_MIRROR:-}
	if [ -z "$mirror" ]; then
		codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
		# shellcheck disable=SC2016
		mirror=$(apt-get indextargets --format '$(RELEASE) $(REPO_URI)' 'Created-By: Packages' 2>/dev/null \
			| awk -v c="$codename" '$1 == c { print $2; exit }')
	fi
	[ -n "$mirror" ] || ec_die "pg17-check: no Debian mirror in apt's sources for this release; set EC_DEBIAN_MIRROR"
	arch=$(dpkg --print-architecture)
	rm -rf "$apt" "$P/debs.new"
	mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/sources.list.d" "$apt/preferences.d" "$P/debs.new"
	printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' "$mirror" "$SUITE" >"$apt/sources.list"
	opts=(-o Dir::Etc::SourceList="$apt/sources.list" -o Dir::Etc::SourceParts="$apt/sources.list.d"
		-o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts="$apt/preferences.d"
		-o Dir::State::Lists="$apt/lists" -o Dir::Cache="$apt/cache" -o Dir::State::status=/dev/null
		-o APT::Architecture="$arch" -o APT::Architectures="$arch" -o Acquire::Languages=none
		-o Debug::NoLocking=1 -o APT::Sandbox::User="$(id -un)")
	ec_log "pg17-check: downloading $PACKAGES from Debian $SUITE ($mirror)"
	# (older apt-get update warns, but exits 0, when an index cannot be fetched)
	if ! apt-get "${opts[@]}" -q update >"$P/fetch.log" 2>&1 || grep -qi 'failed to fetch\|failed to download' "$P/fetch.log"; then
		cat "$P/fetch.log" >&2
		ec_die "pg17-check: could not download the Debian $SUITE package index from $mirror"
	fi
	# shellcheck disable=SC2086
	if ! (cd "$P/debs.new" && apt-get "${opts[@]}" -q download $PACKAGES) >>"$P/fetch.log" 2>&1; then
		cat "$P/fetch.log" >&2
		ec_die "pg17-check: could not download $PACKAGES from Debian $SUITE"
	fi
	rm -rf "$P/debs" && mv "$P/debs.new" "$P/debs"
}

have_debs() {
	local p
	for p in $PACKAGES; do
		ls "$P/debs/${p}_"*.deb >/dev/null 2>&1 || return 1
	done
}

have_debs || pg17_fetch
have_debs || ec_die "pg17-check: the download left no .deb for one of: $PACKAGES"

# Unpacked once per set of .debs.
debs=$(cd "$P/debs" && ls ./*.deb | LC_ALL=C sort | tr '\n' ' ')
if [ "$(cat "$P/root/.debs" 2>/dev/null)" != "$debs" ]; then
	rm -rf "$P/root" "$P/root.new"
	mkdir -p "$P/root.new"
	for d in "$P"/debs/*.deb; do
		dpkg -x "$d" "$P/root.new" || ec_die "pg17-check: could not unpack $d"
	done
	printf '%s\n' "$debs" >"$P/root.new/.debs"
	mv "$P/root.new" "$P/root"
fi
INC=$P/root/usr/include/postgresql
[ -f "$INC/17/server/pg_config.h" ] || ec_die "pg17-check: no PostgreSQL 17 server headers in $INC/17/server"
version=$(sed -n 's/^#define PG_VERSION "\(.*\)"$/\1/p' "$INC/17/server/pg_config.h")

# strlcpy/strlcat: see the header of this file.
COPT="-Werror"
if ! printf '#include <string.h>\nvoid *ec_p(void);\nvoid *ec_p(void) { return (void *) strlcpy; }\n' \
	| gcc -D_GNU_SOURCE -x c -fsyntax-only -Werror - 2>/dev/null; then
	printf '%s\n' '/* Written by scripts/pg17-check.sh: this glibc has no strlcpy/strlcat, which the PostgreSQL 17 headers expect from <string.h>. */' \
		'#include <stddef.h>' \
		'extern size_t strlcat(char *dst, const char *src, size_t siz);' \
		'extern size_t strlcpy(char *dst, const char *src, size_t siz);' >"$P/strlcpy.h"
	COPT="$COPT -include $P/strlcpy.h"
fi

# A copy of the sources to build in (the PGXS build puts objects beside them).
rm -rf "$P/src"
mkdir -p "$P/src"
cp -a "$SRC/Makefile" "$SRC/src" "$P/src/"
cp -a "$SRC"/*.control "$P/src/" 2>/dev/null || true
# objects of a build in SOURCE_DIR would look up to date to make
find "$P/src" \( -name '*.o' -o -name '*.bc' -o -name '*.so' \) -delete
objs=$(cd "$P/src" && ls src/*.c src/*/*.c | sed 's/\.c$/.o/' | tr '\n' ' ')
nfiles=$(printf '%s' "$objs" | wc -w)

# The Makefile's own compile rule (PGXS of $PG_CONFIG; PG_CPPFLAGS, PG_CFLAGS)
# with what a PostgreSQL 17 PGXS puts in its place: the include folders and
# the CFLAGS/CPPFLAGS the packages' pg_config (a Perl script) gives, which
# add -Wshadow=compatible-local and -Werror=implicit-function-declaration
# (CFLAGS given to make, PGXS no longer appends COPT: it goes in CFLAGS).
if ! cflags=$(perl "$P/root/usr/bin/pg_config" --cflags) || ! cppflags=$(perl "$P/root/usr/bin/pg_config" --cppflags); then
	ec_die "pg17-check: could not run the PostgreSQL 17 pg_config script"
fi
ec_log "pg17-check: compiling $nfiles files against the headers of PostgreSQL $version"
# shellcheck disable=SC2086
if make -C "$P/src" -k -s -j2 PG_CONFIG="$PG_CONFIG" \
	includedir_server="$INC/17/server" includedir_internal="$INC/internal" \
	CFLAGS="$cflags $COPT" CPPFLAGS="$cppflags" $objs >"$P/compile.log" 2>&1; then
	echo "pg17-check: $nfiles files compile against the headers of PostgreSQL $version with -Werror"
else
	cat "$P/compile.log"
	failed=$(grep -o '^src/[^:]*\.c' "$P/compile.log" | LC_ALL=C sort -u | tr '\n' ' ')
	echo "pg17-check: FAILED against the headers of PostgreSQL $version; files with errors: ${failed:-see above}"
	exit 1
fi
