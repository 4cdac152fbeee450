#!/usr/bin/env bash
# The main job: build, start a throwaway cluster with the extension, load the
# bundled sample (demo/sample/), run every pipeline step (demo/NN_*.sql) and
# show what is in the pipeline. The cluster keeps running so you can look.
#
#   scripts/demo.sh          (re)start the demo and run the pipeline
#   scripts/demo.sh psql     open psql on the demo database
#   scripts/demo.sh stop     stop the demo cluster and remove it
set -u
. "$(dirname "$0")/lib.sh"

DEMO_DB=equity_connect

# Stand-ins for Instantly, VAPI and the brokers' webhooks on 127.0.0.1
# (test/http_server.py): the demo's requests never leave the machine.
demo_standin_stop() {
	local pid
	pid=$(cat "$EC_BUILD/demo-standin/pid" 2>/dev/null) && kill "$pid" 2>/dev/null
	rm -f "$EC_BUILD/demo-standin/pid"
}
case "${1:-run}" in
	stop)
		ec_setup_user; ec_private_pg
		ec_cluster_stop "$EC_BUILD/demo"; demo_standin_stop; rm -rf "$EC_BUILD/demo" "$EC_BUILD/demo-standin"
		echo "demo stopped"; exit 0 ;;
	psql)
		ec_setup_user; ec_private_pg
		port=$(cat "$EC_BUILD/demo/port" 2>/dev/null) || ec_die "no demo running: scripts/demo.sh"
		exec "$EC_PGBIN/psql" -h 127.0.0.1 -p "$port" -U postgres "$DEMO_DB" ;;
	run) ;;
	*) ec_die "usage: scripts/demo.sh [run|psql|stop]" ;;
esac

ec_prepare
D=$EC_BUILD/demo
ec_cluster_stop "$D"
demo_standin_stop
SD=$EC_BUILD/demo-standin
ec_as_user mkdir -p "$SD"
rm -f "$SD/port"
ec_as_user setsid python3 "$EC_SRC/test/http_server.py" --port-file "$SD/port" --log "$SD/requests.log" \
	--pid-file "$SD/pid" </dev/null >"$SD/server.out" 2>&1 &
for _ in $(seq 1 500); do [ -s "$SD/port" ] && break; sleep 0.01; done
STANDIN=http://127.0.0.1:$(cat "$SD/port" 2>/dev/null) || ec_die "the provider stand-in did not start"
PORT=$(ec_free_port 55432)
EC_CLUSTER_CONF="ec.database_name = '$DEMO_DB'
ec.instantly_base_url = '$STANDIN/instantly'
ec.vapi_base_url = '$STANDIN/vapi'
${EC_DEMO_CONF:-}"
ec_cluster_start "$D" "$PORT"
echo "$PORT" | ec_as_user tee "$D/port" >/dev/null
ec_psql postgres -c "CREATE DATABASE $DEMO_DB" >/dev/null
ec_psql "$DEMO_DB" -c "CREATE EXTENSION equity_connect CASCADE" >/dev/null

# All steps in one session (the sample lives in temp tables), run from the
# source folder so that \copy finds demo/sample/.
cd "$EC_SRC" || exit 1
cat demo/[0-9][0-9]_*.sql | ec_psql "$DEMO_DB" -P pager=off -v standin="$STANDIN" -f - || ec_die "a demo step failed"

cat <<MSG

The demo cluster is running:
  postgresql://postgres@127.0.0.1:$PORT/$DEMO_DB   (trust authentication: a demo, not a deployment)
  scripts/demo.sh psql     open psql on it
  scripts/demo.sh stop     stop and remove it
Provider stand-in (Instantly, VAPI, webhooks): $STANDIN, its requests in $SD/requests.log
MSG
