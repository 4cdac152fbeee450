#!/usr/bin/env bash
# Shared by scripts/test.sh, scripts/demo.sh and bench/run.sh.
#
# - installs the Debian packages the project needs (when missing),
# - copies the system's PostgreSQL 15 into .build/pg (a private, relocatable
#   copy) so that building and installing the extension never touches
#   /usr/lib/postgresql and several checkouts can test side by side,
# - builds and installs the extension there, as an unprivileged user when
#   run as root (PostgreSQL refuses to run as root).

EC_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
EC_PGVER=15
EC_PACKAGES="postgresql-$EC_PGVER postgresql-server-dev-$EC_PGVER postgresql-$EC_PGVER-cron
	postgresql-$EC_PGVER-pgtap libcurl4-openssl-dev libssl-dev libipc-run-perl make gcc
	clang-14 libclang-rt-14-dev nginx-light python3 openssl perl"
EC_OS_USER=${EC_OS_USER:-ecpg}

ec_log() { printf '== %s\n' "$*" >&2; }
ec_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Install whatever Debian package is missing (apt-get update first).
ec_install_packages() {
	local missing="" p
	for p in $EC_PACKAGES "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" != 0 ]; then
		ec_die "missing Debian packages:$missing (run as root, or: sudo apt-get install$missing)"
	fi
	ec_log "installing Debian packages:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null || ec_die "apt-get update failed"
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null || ec_die "apt-get install failed:$missing"
	# Debian starts services it installs; the project starts its own.
	systemctl stop nginx 2>/dev/null || service nginx stop 2>/dev/null || true
}

# Upgrade a Debian package that is older than a version (apt-get update
# first): ec_package_at_least PACKAGE VERSION.
ec_package_at_least() {
	local have
	have=$(dpkg-query -W -f='${Version}' "$1" 2>/dev/null)
	[ -n "$have" ] && dpkg --compare-versions "$have" ge "$2" && return 0
	if [ "$(id -u)" != 0 ]; then
		ec_die "Debian package $1 ${have:-(not installed)} is older than $2 (run as root, or: sudo apt-get install $1)"
	fi
	ec_log "upgrading Debian package $1 ${have:-(not installed)} to at least $2"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null || ec_die "apt-get update failed"
	apt-get install -y -qq --no-install-recommends "$1" >/dev/null || ec_die "apt-get install failed: $1"
	have=$(dpkg-query -W -f='${Version}' "$1" 2>/dev/null)
	dpkg --compare-versions "$have" ge "$2" || ec_die "Debian package $1 is $have after the upgrade, older than $2"
}

# Run a command as the unprivileged user that owns the build and the clusters.
ec_as_user() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u "$EC_OS_USER" -- env PATH="$PATH" HOME="$EC_BUILD" "$@"
	else
		"$@"
	fi
}

# Choose the build folder (.build in the checkout, or a private one under
# /var/tmp when the unprivileged user cannot reach the checkout).
ec_setup_user() {
	EC_BUILD=${EC_BUILD:-$EC_ROOT/.build}
	if [ "$(id -u)" = 0 ]; then
		id "$EC_OS_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /bin/bash "$EC_OS_USER"
		mkdir -p "$EC_BUILD"
		chown "$EC_OS_USER" "$EC_BUILD"
		if ! runuser -u "$EC_OS_USER" -- test -w "$EC_BUILD"; then
			EC_BUILD=/var/tmp/equity_connect-$(printf '%s' "$EC_ROOT" | sha256sum | cut -c1-12)
			mkdir -p "$EC_BUILD" && chown "$EC_OS_USER" "$EC_BUILD"
		fi
	fi
	mkdir -p "$EC_BUILD"
	export EC_BUILD
}

# A private copy of the system PostgreSQL (relocatable: paths follow the copy).
ec_private_pg() {
	local sys=/usr/lib/postgresql/$EC_PGVER stamp want
	EC_PG=$EC_BUILD/pg
	want=$(/usr/lib/postgresql/$EC_PGVER/bin/postgres --version 2>/dev/null)
	[ -n "$want" ] || ec_die "PostgreSQL $EC_PGVER is not installed"
	stamp=$(cat "$EC_PG/.version" 2>/dev/null || true)
	if [ "$stamp" != "$want" ]; then
		ec_log "copying $want into $EC_PG"
		rm -rf "$EC_PG"
		mkdir -p "$EC_PG/usr/lib/postgresql" "$EC_PG/usr/share/postgresql" "$EC_PG/usr/include"
		cp -a "$sys" "$EC_PG/usr/lib/postgresql/"
		cp -a "/usr/share/postgresql/$EC_PGVER" "$EC_PG/usr/share/postgresql/"
		cp -a /usr/include/postgresql "$EC_PG/usr/include/"
		printf '%s\n' "$want" > "$EC_PG/.version"
		[ "$(id -u)" = 0 ] && chown -R "$EC_OS_USER" "$EC_PG"
	fi
	EC_PGBIN=$EC_PG/usr/lib/postgresql/$EC_PGVER/bin
	export EC_PG EC_PGBIN PG_CONFIG=$EC_PGBIN/pg_config
}

# Copy the checkout's sources into the build folder and build + install there.
# The checkout's source files, relative to it: what git tracks or would track
# (not ignored); without git, every file but build products.
ec_source_files() {
	local f
	if git -c safe.directory='*' -C "$EC_ROOT" rev-parse --git-dir >/dev/null 2>&1; then
		git -c safe.directory='*' -C "$EC_ROOT" ls-files -co --exclude-standard | while IFS= read -r f; do
			[ -f "$EC_ROOT/$f" ] && printf '%s\n' "$f"
		done
	else
		(cd "$EC_ROOT" && find . \( -path ./.build -o -path ./.git \) -prune -o -type f \
			! -name '*.o' ! -name '*.bc' ! -name '*.so' ! -path './equity_connect--*.sql' -print | sed 's|^\./||')
	fi
}

ec_build() {
	local src=$EC_BUILD/src new=$EC_BUILD/src.new f
	# The copy is built in place, so make sees only what changed. A file whose
	# content changed gets the time of this copy (never the checkout's older
	# time, which a hand-built object in the copy could hide); a file gone from
	# the checkout is gone from the copy (build products stay).
	rm -rf "$new"
	mkdir -p "$src" "$new"
	# Only the sources: build products left in the checkout by a make run
	# there (objects, the library, the generated install script, test
	# binaries) would be copied with this copy's time, look newer than their
	# sources to make, and be installed stale.
	ec_source_files >"$EC_BUILD/src.list"
	# a copy made before this rule may hold such products: built again once
	[ -f "$EC_BUILD/src.sources-only" ] || rm -rf "$src" "$EC_BUILD/src.files"
	mkdir -p "$src"
	touch "$EC_BUILD/src.sources-only"
	tar -C "$EC_ROOT" -cf - -T "$EC_BUILD/src.list" | tar -C "$new" -xf -
	(cd "$new" && find . -type f | LC_ALL=C sort) >"$EC_BUILD/src.files.new"
	while IFS= read -r f; do
		cmp -s "$new/$f" "$src/$f" && continue
		mkdir -p "$(dirname "$src/$f")"
		rm -f "$src/$f"
		cp "$new/$f" "$src/$f"
	done <"$EC_BUILD/src.files.new"
	if [ -f "$EC_BUILD/src.files" ]; then
		LC_ALL=C comm -23 "$EC_BUILD/src.files" "$EC_BUILD/src.files.new" | while IFS= read -r f; do
			rm -f "$src/$f"
		done
	fi
	mv "$EC_BUILD/src.files.new" "$EC_BUILD/src.files"
	rm -rf "$new"
	[ "$(id -u)" = 0 ] && chown -R "$EC_OS_USER" "$src"
	ec_log "building equity_connect"
	ec_as_user make -C "$src" -s -j2 PG_CONFIG="$PG_CONFIG" COPT="${EC_COPT:--Werror}" >"$EC_BUILD/build.log" 2>&1 \
		|| { cat "$EC_BUILD/build.log" >&2; ec_die "build failed"; }
	ec_as_user make -C "$src" -s install PG_CONFIG="$PG_CONFIG" >>"$EC_BUILD/build.log" 2>&1 \
		|| { cat "$EC_BUILD/build.log" >&2; ec_die "install failed"; }
	EC_SRC=$src
	export EC_SRC
}

# Everything up to a built and installed extension.
ec_prepare() {
	ec_install_packages "$@"
	ec_setup_user
	ec_private_pg
	ec_build
}

# A throwaway cluster: ec_cluster_start DIR [PORT] (unix socket in DIR/sock;
# TCP on 127.0.0.1 only when PORT is given). Extra settings from $EC_CLUSTER_CONF.
ec_cluster_start() {
	local dir=$1 port=${2:-}
	# a server left running on the directory (an interrupted run, a hand-started one) is stopped first: removed
	# under it, it would notice its lock file gone and take the new server's socket down with it when it exits
	if [ -f "$dir/data/postmaster.pid" ]; then
		ec_as_user "$EC_PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$dir"
	ec_as_user mkdir -p "$dir/sock"
	ec_as_user "$EC_PGBIN/initdb" -D "$dir/data" -A trust -U "${EC_SUPERUSER:-postgres}" --no-sync -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
		|| { cat "$dir/initdb.log" >&2; ec_die "initdb failed"; }
	{
		cat "$EC_ROOT/test/ec.conf"
		echo "unix_socket_directories = '$dir/sock'"
		if [ -n "$port" ]; then echo "listen_addresses = '127.0.0.1'"; echo "port = $port"; else echo "listen_addresses = ''"; fi
		echo "fsync = off"
		printf '%s\n' "${EC_CLUSTER_CONF:-}"
	} | ec_as_user tee -a "$dir/data/postgresql.conf" >/dev/null
	# a caller's step between the configuration and the start (bench/run.sh: huge pages)
	if [ -n "${EC_CLUSTER_PRESTART:-}" ]; then "$EC_CLUSTER_PRESTART" "$dir"; fi
	ec_as_user "$EC_PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null \
		|| { cat "$dir/server.log" >&2; ec_die "could not start the cluster in $dir"; }
	EC_PGHOST=$dir/sock
	EC_PGPORT=${port:-5432}
	export EC_PGHOST EC_PGPORT
}

ec_cluster_stop() {
	local dir=$1
	[ -f "$dir/data/postmaster.pid" ] || return 0
	ec_as_user "$EC_PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
}

# psql against the cluster last started: ec_psql DB [psql args...]
ec_psql() {
	local db=$1; shift
	ec_as_user "$EC_PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$EC_PGHOST" -p "$EC_PGPORT" -U "${EC_SUPERUSER:-postgres}" -d "$db" "$@"
}

# A free TCP port on 127.0.0.1.
ec_free_port() {
	local p
	for p in $(seq "${1:-55432}" 65000); do
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
	done
	ec_die "no free port"
}
