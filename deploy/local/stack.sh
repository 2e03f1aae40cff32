#!/usr/bin/env bash
# Local test stack without Docker, on 127.0.0.1 only:
#   kafka     one Apache Kafka node in KRaft mode (broker + controller), run
#             from its Maven Central jars
#   postgres  a private PostgreSQL cluster with role ar/ar and db receivables
# State lives in <project>/.local/ (git-ignored); the Kafka jars are cached in
# ${AR_CACHE_DIR:-$HOME/.cache/receivables}. See deploy/local/README.md.
#
# Usage: stack.sh start|stop|status|env|reset [all|kafka|postgres]
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$SCRIPT_DIR/../.." && pwd) # deploy/local/ is two levels down
LOCAL="$ROOT/.local"

KAFKA_VERSION=4.1.1 # keep in step with deploy/local/kafka/pom.xml
KAFKA_PORT=${KAFKA_PORT:-19092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-19093}
KAFKA_ADDR="127.0.0.1:$KAFKA_PORT"
KAFKA_DIR="$LOCAL/kafka"
KAFKA_CONF="$KAFKA_DIR/server.properties"
KAFKA_PID_FILE="$KAFKA_DIR/kafka.pid"
KAFKA_LIBS="${AR_CACHE_DIR:-${HOME:?set HOME or AR_CACHE_DIR}/.cache/receivables}/kafka-$KAFKA_VERSION/libs"
KAFKA_READY_TIMEOUT=90
KAFKA_STOP_TIMEOUT=30

PG_PORT=${PG_PORT:-15432}
PG_URL="postgresql://ar:ar@127.0.0.1:$PG_PORT/receivables"
PG_OS_USER=arpg # initdb/pg_ctl refuse to run as root
PG_READY_TIMEOUT=60
# .local/pg may be a symlink (see pg_prepare_dir): always work on its target.
PG_DIR=$(readlink -f "$LOCAL/pg" 2>/dev/null || echo "$LOCAL/pg")

# ---------------------------------------------------------------- helpers

say() { printf '%s\n' "$*"; }
die() {
	printf 'stack.sh: %s\n' "$*" >&2
	exit 1
}

# True when process $1 exists and is not a zombie (where pid 1 is slow to reap,
# a stopped server lingers as a zombie that kill -0 still sees).
proc_alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat:0:1} != Z ]]
}

# True when something accepts TCP connections on 127.0.0.1:$1.
port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# Prints the pid on the first line of file $1 if that process is alive and its
# command line contains $2; the check guards against a pid recycled after a
# crash or reboot, and against servers of another clone.
live_pid() {
	local pid
	[[ -s $1 ]] || return 1
	pid=$(head -n1 "$1")
	[[ $pid =~ ^[0-9]+$ ]] && proc_alive "$pid" || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2" || return 1
	echo "$pid"
}

# Prints the last lines of the given log files to stderr.
show_logs() {
	local f
	for f in "$@"; do
		[[ -s $f ]] || continue
		printf -- '--- last lines of %s\n' "$f" >&2
		tail -n 25 "$f" >&2
	done
}

# A server counts as external when its variable is set to something other than
# what `stack.sh env` prints, so `eval "$(stack.sh env)"` in a shell does not
# stop the script from managing its own servers afterwards.
kafka_external() { [[ -n ${KAFKA_BOOTSTRAP_SERVERS:-} && $KAFKA_BOOTSTRAP_SERVERS != "$KAFKA_ADDR" ]]; }
pg_external() { [[ -n ${DATABASE_URL:-} && $DATABASE_URL != "$PG_URL" ]]; }

# ---------------------------------------------------------------- kafka

kafka_pid() { live_pid "$KAFKA_PID_FILE" "kafka.Kafka $KAFKA_CONF"; }

# Port of the running broker: its config is only rewritten when it is stopped.
kafka_running_port() { sed -n 's#^advertised.listeners=PLAINTEXT://127.0.0.1:##p' "$KAFKA_CONF"; }

# Runs a Kafka command-line class quietly (its own logging to stderr, WARN+);
# the timeout keeps a tool stuck on an unready broker from hanging us.
kafka_tool() {
	timeout 60 java -Dlog4j.configuration="file:$KAFKA_DIR/tools-log4j.properties" \
		-Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.properties" \
		-cp "$KAFKA_LIBS/*" "$@"
}

# Fetches the broker jars from Maven Central once; the marker file is written
# only after a complete fetch, so an interrupted one is simply redone.
kafka_fetch() {
	[[ -f $KAFKA_LIBS/.fetched ]] && return 0
	command -v mvn >/dev/null || die "kafka: mvn not found; it is needed once to fetch Kafka $KAFKA_VERSION from Maven Central"
	say "kafka: fetching Kafka $KAFKA_VERSION jars into $KAFKA_LIBS (once) ..."
	local t0=$SECONDS
	rm -rf "$KAFKA_LIBS" # leftovers of a failed fetch must not reach the classpath
	mkdir -p "$KAFKA_LIBS"
	mvn -q -B -Dstyle.color=never -f "$SCRIPT_DIR/kafka/pom.xml" dependency:copy-dependencies \
		-DoutputDirectory="$KAFKA_LIBS" >&2 ||
		die "kafka: fetching the jars with mvn failed"
	touch "$KAFKA_LIBS/.fetched"
	say "kafka: fetched $(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars in $((SECONDS - t0))s"
}

# Rewritten on every start so that changed ports take effect.
kafka_write_config() {
	mkdir -p "$KAFKA_DIR/data" "$KAFKA_DIR/logs"
	cat >"$KAFKA_CONF" <<EOF
# Written by deploy/local/stack.sh on every start; edits are lost.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$KAFKA_DIR/data
# services declare their topics; a typo must fail, not create a topic
auto.create.topics.enable=false
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
num.partitions=3
EOF
	# Kafka logs through slf4j, bound to reload4j (log4j 1 syntax).
	cat >"$KAFKA_DIR/log4j.properties" <<EOF
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$KAFKA_DIR/logs/server.log
log4j.appender.file.Append=true
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF
	cat >"$KAFKA_DIR/tools-log4j.properties" <<'EOF'
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF
	# log4j-core is on the classpath too (Kafka's dynamic log-level support);
	# without a config of its own it prints "Reconfiguration failed" noise.
	cat >"$KAFKA_DIR/log4j2.properties" <<EOF
status = error
appender.file.type = File
appender.file.name = file
appender.file.fileName = $KAFKA_DIR/logs/log4j2.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.file.ref = file
EOF
}

# KRaft needs formatted storage; done once, meta.properties marks it.
kafka_format() {
	[[ -f $KAFKA_DIR/data/meta.properties ]] && return 0
	local id out
	id=$(kafka_tool kafka.tools.StorageTool random-uuid) || die "kafka: StorageTool random-uuid failed"
	# no --standalone: it conflicts with controller.quorum.voters
	out=$(kafka_tool kafka.tools.StorageTool format -t "$id" -c "$KAFKA_CONF" 2>&1) ||
		die "kafka: formatting $KAFKA_DIR/data failed: $out"
	say "kafka: formatted $KAFKA_DIR/data (cluster id $id)"
}

# Starts the broker detached (own session, no terminal) so it outlives this
# script, and records its pid.
kafka_launch() {
	(
		cd "$KAFKA_DIR"
		exec setsid nohup java -Xms256m -Xmx768m -XX:+ExitOnOutOfMemoryError \
			-Djava.awt.headless=true \
			-Dlog4j.configuration="file:$KAFKA_DIR/log4j.properties" \
			-Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.properties" \
			-Dkafka.logs.dir="$KAFKA_DIR/logs" \
			-cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_CONF"
	) >"$KAFKA_DIR/logs/stdout.log" 2>&1 </dev/null &
	echo $! >"$KAFKA_PID_FILE"
}

# Gives up on a broker that did not come up: show why, and leave no process.
kafka_fail() {
	local pid
	printf 'stack.sh: kafka: %s\n' "$1" >&2
	show_logs "$KAFKA_DIR/logs/stdout.log" "$KAFKA_DIR/logs/server.log"
	if pid=$(kafka_pid); then kill -KILL "$pid" 2>/dev/null || true; fi
	rm -f "$KAFKA_PID_FILE"
	exit 1
}

# Waits until the broker answers an ApiVersions request: an open port alone
# only means the socket server is up, not that the node has joined its quorum.
kafka_wait_ready() {
	local deadline=$((SECONDS + KAFKA_READY_TIMEOUT))
	while ((SECONDS < deadline)); do
		kafka_pid >/dev/null || kafka_fail "the broker exited during startup"
		if port_open "$KAFKA_PORT" && kafka_tool org.apache.kafka.tools.BrokerApiVersionsCommand \
			--bootstrap-server "$KAFKA_ADDR" >/dev/null 2>&1; then
			return 0
		fi
		sleep 1
	done
	kafka_fail "not ready on $KAFKA_ADDR after ${KAFKA_READY_TIMEOUT}s"
}

kafka_start() {
	local pid port t0=$SECONDS
	if kafka_external; then
		say "kafka: KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS is set, using it; not starting"
		return 0
	fi
	if pid=$(kafka_pid); then
		if [[ $(kafka_running_port) != "$KAFKA_PORT" ]]; then
			die "kafka: already running (pid $pid) on 127.0.0.1:$(kafka_running_port), not $KAFKA_PORT; stop it first"
		fi
		kafka_wait_ready # it may still be starting from a parallel call
		say "kafka: already running (pid $pid) on $KAFKA_ADDR"
		return 0
	fi
	rm -f "$KAFKA_PID_FILE"
	for port in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
		if port_open "$port"; then
			die "kafka: 127.0.0.1:$port is in use by another process; stop it or set KAFKA_PORT/KAFKA_CONTROLLER_PORT"
		fi
	done
	command -v java >/dev/null || die "kafka: java not found (Kafka $KAFKA_VERSION needs Java 17+)"
	kafka_fetch
	kafka_write_config
	kafka_format
	t0=$SECONDS
	kafka_launch
	kafka_wait_ready
	say "kafka: started on $KAFKA_ADDR in $((SECONDS - t0))s (pid $(kafka_pid), log $KAFKA_DIR/logs/server.log)"
}

# SIGTERM lets the broker flush and close its logs cleanly; SIGKILL only if it
# hangs.
kafka_stop() {
	local pid t0=$SECONDS
	if kafka_external; then
		say "kafka: KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS is set, external; not stopping"
		return 0
	fi
	if ! pid=$(kafka_pid); then
		rm -f "$KAFKA_PID_FILE"
		say "kafka: not running"
		return 0
	fi
	kill -TERM "$pid" 2>/dev/null || true
	while proc_alive "$pid" && ((SECONDS - t0 < KAFKA_STOP_TIMEOUT)); do sleep 0.5; done
	if proc_alive "$pid"; then
		kill -KILL "$pid" 2>/dev/null || true
		while proc_alive "$pid"; do sleep 0.2; done
		say "kafka: killed (pid $pid) after ${KAFKA_STOP_TIMEOUT}s without a clean shutdown"
	else
		say "kafka: stopped (pid $pid) in $((SECONDS - t0))s"
	fi
	rm -f "$KAFKA_PID_FILE"
}

kafka_status() {
	local pid port
	if kafka_external; then
		say "kafka: external, KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS"
	elif pid=$(kafka_pid); then
		port=$(kafka_running_port)
		if port_open "$port"; then
			say "kafka: running (pid $pid) on 127.0.0.1:$port, log $KAFKA_DIR/logs/server.log"
		else
			say "kafka: starting (pid $pid), 127.0.0.1:$port not open yet"
		fi
	else
		say "kafka: stopped"
		return 3
	fi
}

kafka_reset_data() {
	if kafka_pid >/dev/null; then die "kafka: still running, not deleting its data"; fi
	rm -rf "$KAFKA_DIR/data"
	say "kafka: deleted $KAFKA_DIR/data"
}

# ---------------------------------------------------------------- postgres

pg_pid() { live_pid "$PG_DIR/data/postmaster.pid" "$PG_DIR/data"; }

# Port of the running cluster: line 4 of postmaster.pid.
pg_running_port() { sed -n 4p "$PG_DIR/data/postmaster.pid"; }

# Runs a PostgreSQL program as the cluster owner: the dedicated system user
# when we are root, else ourselves. From / because the caller's cwd may be
# unreadable to that user.
as_pg() {
	if ((EUID == 0)); then
		(cd / && runuser -u "$PG_OS_USER" -- env HOME="$PG_DIR" "$@")
	else
		(cd / && "$@")
	fi
}

# Finds the server binaries (version 15 preferred); installs Debian's
# postgresql package when there are none, as on a fresh CI machine.
pg_find_bin() {
	local d
	for d in /usr/lib/postgresql/15/bin $(printf "%s\n" /usr/lib/postgresql/*/bin | sort -rV); do
		if [[ -x $d/initdb && -x $d/pg_ctl && -x $d/postgres ]]; then
			PG_BIN=$d
			return 0
		fi
	done
	d=$(command -v initdb 2>/dev/null || true)
	if [[ -n $d && -x ${d%/*}/pg_ctl && -x ${d%/*}/postgres ]]; then
		PG_BIN=${d%/*}
		return 0
	fi
	return 1
}

pg_install() {
	pg_find_bin && return 0
	((EUID == 0)) || die "postgres: no PostgreSQL server binaries found; install the 'postgresql' package"
	say "postgres: no server binaries found, installing Debian's postgresql package ..."
	DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || die "postgres: apt-get update failed"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2 || die "postgres: apt-get install postgresql failed"
	pg_find_bin || die "postgres: still no server binaries after installing postgresql"
}

# Creates the cluster folder, owned by the cluster user. When that user cannot
# reach the project (e.g. a clone under /root, mode 700), the folder goes to
# /var/tmp and .local/pg becomes a symlink to it.
pg_prepare_dir() {
	mkdir -p "$LOCAL"
	if ((EUID == 0)); then
		id -u "$PG_OS_USER" >/dev/null 2>&1 ||
			useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$PG_OS_USER" ||
			die "postgres: could not create system user $PG_OS_USER"
		if [[ ! -L $LOCAL/pg ]] && ! runuser -u "$PG_OS_USER" -- test -x "$LOCAL"; then
			rmdir "$LOCAL/pg" 2>/dev/null || true
			if [[ -e $LOCAL/pg ]]; then
				die "postgres: user $PG_OS_USER cannot reach $LOCAL/pg; move the project or delete it"
			fi
			local real
			real=/var/tmp/receivables-pg-$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)
			mkdir -p "$real"
			ln -s "$real" "$LOCAL/pg"
		fi
	fi
	mkdir -p "$LOCAL/pg"
	PG_DIR=$(readlink -f "$LOCAL/pg")
	mkdir -p "$PG_DIR/logs" "$PG_DIR/run"
	if ((EUID == 0)); then chown -R "$PG_OS_USER:" "$PG_DIR"; fi
	chmod 700 "$PG_DIR"
	# the kernel limits a unix socket path to 107 bytes
	((${#PG_DIR} + 20 <= 107)) || die "postgres: socket path under $PG_DIR is too long for a unix socket"
}

pg_init() {
	[[ -f $PG_DIR/data/PG_VERSION ]] && return 0
	# trust on the private socket (only the owner may enter run/), passwords
	# over TCP
	as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -E UTF8 --locale=C \
		--auth-local=trust --auth-host=scram-sha-256 >"$PG_DIR/logs/initdb.log" 2>&1 || {
		show_logs "$PG_DIR/logs/initdb.log"
		die "postgres: initdb failed"
	}
	echo "include 'stack.conf'" >>"$PG_DIR/data/postgresql.conf"
	say "postgres: initialized $PG_DIR/data"
}

# Rewritten on every start so that a changed PG_PORT takes effect.
pg_write_config() {
	as_pg tee "$PG_DIR/data/stack.conf" >/dev/null <<EOF
# Written by deploy/local/stack.sh on every start; edits are lost.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_DIR/run'
unix_socket_permissions = 0700
max_connections = 200
shared_buffers = 256MB
# durability stays on: the tests exercise crash safety
fsync = on
synchronous_commit = on
full_page_writes = on
EOF
}

pg_wait_ready() {
	local deadline=$((SECONDS + PG_READY_TIMEOUT))
	until "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -d postgres; do
		((SECONDS < deadline)) || {
			show_logs "$PG_DIR/logs/postgres.log"
			die "postgres: not ready on 127.0.0.1:$PG_PORT after ${PG_READY_TIMEOUT}s"
		}
		sleep 0.5
	done
}

# Role and database the services use; re-asserted on each start so that a
# hand-changed password or a dropped database is repaired.
pg_ensure_role_db() {
	local psql=("$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_DIR/run" -p "$PG_PORT" -U postgres -d postgres)
	as_pg "${psql[@]}" -c "DO \$\$ BEGIN
	  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ar') THEN CREATE ROLE ar; END IF;
	END \$\$; ALTER ROLE ar LOGIN SUPERUSER PASSWORD 'ar';" ||
		die "postgres: could not create role ar"
	if [[ -z $(as_pg "${psql[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = 'receivables'") ]]; then
		as_pg "${psql[@]}" -c "CREATE DATABASE receivables OWNER ar" ||
			die "postgres: could not create database receivables"
	fi
}

pg_start() {
	local pid t0
	if pg_external; then
		say "postgres: DATABASE_URL is set to another server, using it; not starting"
		return 0
	fi
	pg_install
	pg_prepare_dir
	if pid=$(pg_pid); then
		if [[ $(pg_running_port) != "$PG_PORT" ]]; then
			die "postgres: already running (pid $pid) on 127.0.0.1:$(pg_running_port), not $PG_PORT; stop it first"
		fi
		pg_wait_ready
		pg_ensure_role_db
		say "postgres: already running (pid $pid) on 127.0.0.1:$PG_PORT"
		return 0
	fi
	if port_open "$PG_PORT"; then
		die "postgres: 127.0.0.1:$PG_PORT is in use by another process; stop it or set PG_PORT"
	fi
	pg_init
	pg_write_config
	t0=$SECONDS
	as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/logs/postgres.log" -w -t "$PG_READY_TIMEOUT" start >/dev/null || {
		show_logs "$PG_DIR/logs/postgres.log"
		die "postgres: pg_ctl start failed"
	}
	pg_wait_ready
	pg_ensure_role_db
	say "postgres: started on 127.0.0.1:$PG_PORT in $((SECONDS - t0))s (pid $(pg_pid), log $PG_DIR/logs/postgres.log)"
}

# Fast mode: roll back open sessions and shut down cleanly (no recovery needed
# at the next start).
pg_stop() {
	local pid t0=$SECONDS
	if pg_external; then
		say "postgres: DATABASE_URL is set to another server, external; not stopping"
		return 0
	fi
	if ! pid=$(pg_pid); then
		say "postgres: not running"
		return 0
	fi
	pg_find_bin || die "postgres: running (pid $pid) but no pg_ctl found to stop it"
	as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 60 stop >/dev/null ||
		die "postgres: pg_ctl stop failed (pid $pid); see $PG_DIR/logs/postgres.log"
	say "postgres: stopped (pid $pid) in $((SECONDS - t0))s"
}

pg_status() {
	local pid
	if pg_external; then
		say "postgres: external, DATABASE_URL is set to another server"
	elif pid=$(pg_pid); then
		say "postgres: running (pid $pid) on 127.0.0.1:$(pg_running_port), data $PG_DIR/data, log $PG_DIR/logs/postgres.log"
	else
		say "postgres: stopped"
		return 3
	fi
}

pg_reset_data() {
	if pg_pid >/dev/null; then die "postgres: still running, not deleting its data"; fi
	rm -rf "$LOCAL/pg"
	# the symlinked /var/tmp folder of pg_prepare_dir, never anything else
	if [[ $PG_DIR == /var/tmp/receivables-pg-* ]]; then rm -rf "$PG_DIR"; fi
	say "postgres: deleted $PG_DIR"
}

# ---------------------------------------------------------------- commands

env_lines() {
	local c
	for c in "$@"; do
		case $c in
		kafka) printf 'export KAFKA_BOOTSTRAP_SERVERS=%q\n' "${KAFKA_BOOTSTRAP_SERVERS:-$KAFKA_ADDR}" ;;
		postgres) printf 'export DATABASE_URL=%q\n' "${DATABASE_URL:-$PG_URL}" ;;
		esac
	done
}

usage() {
	cat >&2 <<'EOF'
usage: stack.sh start|stop|status|env|reset [all|kafka|postgres]
  start   start the servers (no-op for those already running)
  stop    stop them (SIGTERM, then SIGKILL after 30 s, for Kafka; pg_ctl -m fast)
  status  say what runs; exit 3 if something is stopped
  env     print export lines: eval "$(deploy/local/stack.sh env)"
  reset   stop, then delete .local/kafka/data and .local/pg
env: KAFKA_PORT (19092), KAFKA_CONTROLLER_PORT (19093), PG_PORT (15432),
     AR_CACHE_DIR (~/.cache/receivables); a KAFKA_BOOTSTRAP_SERVERS or
     DATABASE_URL pointing elsewhere makes that server external (left alone).
EOF
	exit 2
}

main() {
	local cmd=${1:-} comps c rc=0
	case ${2:-all} in
	all) comps=(postgres kafka) ;; # postgres first: it is quick to come up
	kafka) comps=(kafka) ;;
	postgres | pg) comps=(postgres) ;;
	*) usage ;;
	esac
	(($# <= 2)) || usage
	case $cmd in
	start) for c in "${comps[@]}"; do "${c/postgres/pg}_start"; done ;;
	stop) for c in "${comps[@]}"; do "${c/postgres/pg}_stop"; done ;;
	status) for c in "${comps[@]}"; do "${c/postgres/pg}_status" || rc=$?; done ;;
	env) env_lines "${comps[@]}" ;;
	reset)
		for c in "${comps[@]}"; do "${c/postgres/pg}_stop"; done
		for c in "${comps[@]}"; do "${c/postgres/pg}_reset_data"; done
		;;
	-h | --help | help) usage ;;
	*) usage ;;
	esac
	return "$rc"
}

main "$@"
