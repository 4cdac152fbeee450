#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs every suite on
# throwaway clusters, stops them, and ends with one line "N passed, M failed".
#
#   scripts/test.sh              every default suite (what CI runs)
#   scripts/test.sh --long       also the long ones (fuzzing for minutes, ...)
#
# Environment: EC_FUZZ_SECONDS (default 5 per harness; 300 with --long).
# TAP tests see EC_LONG=1 with --long (the HTTP crash test then queues 10,000 requests).
set -u
. "$(dirname "$0")/lib.sh"

LONG=0
[ "${1:-}" = "--long" ] && LONG=1
FUZZ_SECONDS=${EC_FUZZ_SECONDS:-$([ $LONG = 1 ] && echo 300 || echo 5)}

PASSED=0
FAILED=0
FAILURES=""
pass() { PASSED=$((PASSED + 1)); printf '  ok      %s\n' "$1"; }
fail() { FAILED=$((FAILED + 1)); FAILURES="$FAILURES $1"; printf '  FAILED  %s\n' "$1"; }

ec_prepare
# compile/pg17 reads Debian trixie's signed package index: bookworm's keyring
# has trixie's keys from 2023.3+deb12u2 on.
ec_package_at_least debian-archive-keyring 2023.3+deb12u2
S=$EC_SRC
CLUSTERS=""
cleanup() {
	local d
	for d in $CLUSTERS; do ec_cluster_stop "$d"; done
}
trap cleanup EXIT

# 1. Unit tests of the pure C core (ASan + UBSan), one binary per file.
ec_log "unit tests (src/core, ASan/UBSan)"
if ls "$S"/test/unit/test_*.c >/dev/null 2>&1; then
	if ec_as_user make -C "$S/test/unit" -s all >"$EC_BUILD/unit-build.log" 2>&1; then
		for t in "$S"/test/unit/test_*.c; do
			b=${t%.c}
			if ec_as_user "$b" >"$b.log" 2>&1; then pass "unit/$(basename "$b")"; else cat "$b.log"; fail "unit/$(basename "$b")"; fi
		done
	else
		cat "$EC_BUILD/unit-build.log"; fail "unit/build"
	fi
fi

# 2. Fuzz harnesses: replay saved inputs, then fuzz briefly.
ec_log "fuzzing (${FUZZ_SECONDS}s per harness)"
if ls "$S"/test/fuzz/fuzz_*.c >/dev/null 2>&1; then
	if ec_as_user make -C "$S/test/fuzz" -s all >"$EC_BUILD/fuzz-build.log" 2>&1; then
		for h in "$S"/test/fuzz/fuzz_*.c; do
			n=$(basename "${h%.c}")
			if ec_as_user bash -c "cd '$S/test/fuzz' && make -s regress HARNESSES=$n && make -s run HARNESSES=$n SECONDS=$FUZZ_SECONDS" >"$EC_BUILD/$n.log" 2>&1; then
				pass "fuzz/$n"
			else
				cat "$EC_BUILD/$n.log"; fail "fuzz/$n"
				# keep what the fuzzer found in the checkout, to become a regression input
				cp -r "$S/test/fuzz/regress/$n" "$EC_ROOT/test/fuzz/regress/" 2>/dev/null || true
			fi
		done
	else
		cat "$EC_BUILD/fuzz-build.log"; fail "fuzz/build"
	fi
fi

# pg_regress / pg_isolation_regress output: "test NAME ... ok" (15) or "ok N - NAME" (16+).
count_regress() {
	local log=$1 kind=$2 line name
	while IFS= read -r line; do
		case "$line" in
			*" ... ok"*|*" ... ignored"*)
				name=$(printf '%s' "$line" | sed -E 's/^(test )?[[:space:]]*//; s/[[:space:]]*\.\.\..*//'); pass "$kind/$name" ;;
			*" ... FAILED"*|*" ... failed"*)
				name=$(printf '%s' "$line" | sed -E 's/^(test )?[[:space:]]*//; s/[[:space:]]*\.\.\..*//'); fail "$kind/$name" ;;
			"ok "[0-9]*" - "*)
				pass "$kind/$(printf '%s' "$line" | sed -E 's/^ok [0-9]+ +- +//; s/ +[0-9]+ ms$//')" ;;
			"not ok "[0-9]*" - "*)
				fail "$kind/$(printf '%s' "$line" | sed -E 's/^not ok [0-9]+ +- +//; s/ +[0-9]+ ms$//')" ;;
		esac
	done < "$log"
}

# 3. pg_regress suites (sql/ + expected/) on a throwaway instance.
ec_log "pg_regress (sql/)"
if ls "$S"/sql/*.sql >/dev/null 2>&1; then
	ec_as_user make -C "$S" -s installcheck-regress PG_CONFIG="$PG_CONFIG" >"$EC_BUILD/regress.log" 2>&1
	rc=$?
	before=$FAILED
	count_regress "$EC_BUILD/regress.log" regress
	if [ $rc != 0 ]; then
		[ "$FAILED" = "$before" ] && { cat "$EC_BUILD/regress.log"; fail "regress/run"; }
		[ -f "$S/regression.diffs" ] && head -150 "$S/regression.diffs"
	fi
fi

# 4. Isolation specs (specs/ + expected/).
ec_log "isolation (specs/)"
if ls "$S"/specs/*.spec >/dev/null 2>&1; then
	ec_as_user make -C "$S" -s installcheck-isolation PG_CONFIG="$PG_CONFIG" >"$EC_BUILD/isolation.log" 2>&1
	rc=$?
	before=$FAILED
	count_regress "$EC_BUILD/isolation.log" isolation
	if [ $rc != 0 ]; then
		[ "$FAILED" = "$before" ] && { cat "$EC_BUILD/isolation.log"; fail "isolation/run"; }
		[ -f "$S/output_iso/regression.diffs" ] && head -150 "$S/output_iso/regression.diffs"
	fi
fi

# 5. pgTAP (test/pgtap/), on a cluster that looks like self-hosted Supabase.
ec_log "pgTAP (test/pgtap/, Supabase-style database)"
if ls "$S"/test/pgtap/*.sql >/dev/null 2>&1; then
	D=$EC_BUILD/pgtap
	CLUSTERS="$CLUSTERS $D"
	EC_SUPERUSER=supabase_admin ec_cluster_start "$D"
	export EC_SUPERUSER=supabase_admin
	ec_psql postgres -c "CREATE DATABASE ec_test" >/dev/null
	ec_psql ec_test -f "$S/test/supabase_init.sql" >"$EC_BUILD/supabase_init.log" 2>&1 \
		|| { cat "$EC_BUILD/supabase_init.log"; fail "pgtap/supabase_init"; }
	ec_psql ec_test -c "CREATE EXTENSION pgtap SCHEMA extensions" -c "CREATE EXTENSION equity_connect CASCADE" >"$EC_BUILD/pgtap-install.log" 2>&1 \
		|| { cat "$EC_BUILD/pgtap-install.log"; fail "pgtap/create_extension"; }
	for f in "$S"/test/pgtap/*.sql; do
		n=$(basename "$f" .sql)
		if ec_as_user env PGOPTIONS="-c search_path=public,extensions" pg_prove -h "$EC_PGHOST" -p "$EC_PGPORT" -U supabase_admin -d ec_test "$f" >"$EC_BUILD/pgtap-$n.log" 2>&1; then
			pass "pgtap/$n"
		else
			cat "$EC_BUILD/pgtap-$n.log"; fail "pgtap/$n"
		fi
	done
	ec_cluster_stop "$D"
	unset EC_SUPERUSER
fi

# 6. Perl TAP tests (test/t/*.pl): restarts, crashes, workers.
ec_log "TAP (test/t/)"
if ls "$S"/test/t/*.pl >/dev/null 2>&1; then
	for f in "$S"/test/t/*.pl; do
		n=$(basename "$f" .pl)
		# PostgreSQL::Test::Utils keeps its nodes and logs under $TESTDIR/tmp_check
		rm -rf "$EC_BUILD/tap/$n" && ec_as_user mkdir -p "$EC_BUILD/tap/$n"
		if ec_as_user env PATH="$EC_PGBIN:$PATH" PG_REGRESS="$EC_PG/usr/lib/postgresql/$EC_PGVER/lib/pgxs/src/test/regress/pg_regress" \
			PERL5LIB="$EC_PG/usr/lib/postgresql/$EC_PGVER/lib/pgxs/src/test/perl:$S/test/perl" \
			TESTDIR="$EC_BUILD/tap/$n" TESTDATADIR="$EC_BUILD/tap/$n" EC_SRC="$S" EC_LONG="$LONG" \
			prove "$f" >"$EC_BUILD/tap-$n.log" 2>&1; then
			pass "tap/$n"
		else
			cat "$EC_BUILD/tap-$n.log"; fail "tap/$n"
		fi
	done
fi

# 7. The sources compiled against PostgreSQL 17's headers (downloaded once into .build/pg17).
ec_log "compile check against PostgreSQL 17 (scripts/pg17-check.sh)"
if ec_as_user bash "$S/scripts/pg17-check.sh" "$S" >"$EC_BUILD/pg17-check.log" 2>&1; then
	pass "compile/pg17"
else
	cat "$EC_BUILD/pg17-check.log"; fail "compile/pg17"
fi

[ -n "$FAILURES" ] && printf 'failed:%s\n' "$FAILURES"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
