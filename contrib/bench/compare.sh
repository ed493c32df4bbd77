#!/bin/bash
# compare.sh: runs the same mqttd-bench scenarios against mqttd and
# Debian's mosquitto, alternating, and prints a table of medians.
#
# Each run gets a fresh broker on a free loopback port with its state in
# a temporary directory, so runs do not see each other's sessions or
# warm caches. Run from the top of a built tree:
#
#	contrib/bench/compare.sh            # the full comparison (< 10 min)
#	contrib/bench/compare.sh --quick    # 1 repetition, short runs
#
# Sections: clean sessions (QoS 0/1/2, 1->1 and 4->4), fanout 1->100,
# durable (persistent subscribers offline; 1->1, 4->4 and 16->1, that is
# many devices and one backend; mqttd with sync=full and sync=normal),
# durable QoS 1 latency (1->1, persistent subscriber online, paced at
# half the median mqttd sync=full durable 1->1 PUBACK rate measured
# earlier in the same run, the same rate for every broker), idle
# connections, recovery after kill -9.
#
# Options:
#	--quick          1 repetition, 1 s runs, small counts (a smoke test)
#	--reps N         repetitions of each scenario (3)
#	--duration S     seconds of each throughput and latency run (4)
#	--recovery-count N   messages queued in the recovery scenario (100000)
#	--big-recovery N     also run recovery once with N messages
#	                     (1000000; 0 skips it; --quick skips it)
#	--keep           keep the temporary directory (logs, databases)
#
# Environment: MQTTD, BENCH, MOSQUITTO name the programs (default
# ./mqttd, ./contrib/bench/mqttd-bench, /usr/sbin/mosquitto).
#
# Ratios are mqttd / mosquitto: above 1 means mqttd is faster for rates,
# slower for times and bigger for sizes. "per CPU-s" divides messages by
# the broker's own CPU time (utime + stime, every thread) during the run.
set -u

QUICK=0
REPS=3
DUR=4
RECOVERY_N=100000
BIG_N=1000000
KEEP=0
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) QUICK=1 ;;
	--reps) REPS=$2; shift ;;
	--duration) DUR=$2; shift ;;
	--recovery-count) RECOVERY_N=$2; shift ;;
	--big-recovery) BIG_N=$2; shift ;;
	--keep) KEEP=1 ;;
	*) sed -n '2,/^set -u/p' "$0" | sed -e 's/^# \{0,1\}//' -e '$d' >&2
	   exit 2 ;;
	esac
	shift
done

DURABLE_N=20000
CONNS=10000
if [ $QUICK = 1 ]; then
	REPS=1
	DUR=1
	DURABLE_N=2000
	CONNS=1000
	RECOVERY_N=10000
	BIG_N=0
fi

top=$(cd "$(dirname "$0")/../.." && pwd)
MQTTD=${MQTTD:-$top/mqttd}
BENCH=${BENCH:-$top/contrib/bench/mqttd-bench}
MOSQUITTO=${MOSQUITTO:-/usr/sbin/mosquitto}
for p in "$MQTTD" "$BENCH" "$MOSQUITTO"; do
	if [ ! -x "$p" ]; then
		echo "compare.sh: $p: not found (build with make first)" >&2
		exit 2
	fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mqttd-compare.XXXXXX") || exit 2
results=$tmp/results
: >"$results"
broker_pid=
cleanup() {
	[ -n "$broker_pid" ] && kill -KILL "$broker_pid" 2>/dev/null
	if [ $KEEP = 1 ]; then
		echo "kept $tmp"
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Both brokers and the bench hold 10,000 connections.
ulimit -n "$(ulimit -Hn)" 2>/dev/null

# ===== Brokers =====

# mqttd_ini DIR SYNC: the configuration of one mqttd run.
mqttd_ini() {
	cat <<EOF
[listener]
address = 127.0.0.1
port = 0
max_connections = 100000
[session]
max_inflight = 20
EOF
	echo "max_queued_messages = 10000000"
	cat <<EOF
[storage]
path = $1/mqttd.db
sync = $2
[log]
level = info
EOF
}

# mosquitto_conf DIR PORT: the configuration of one mosquitto run.
mosquitto_conf() {
	cat <<EOF
listener $2 127.0.0.1
allow_anonymous true
persistence true
persistence_location $1/
max_inflight_messages 20
log_dest stderr
EOF
	echo "max_queued_messages 1000000"
}

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until PORT accepts TCP connections (up to 10 s).
wait_port() {
	local i
	for i in $(seq 200); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# start_mqttd SYNC: sets broker_pid, broker_port, broker_log,
# broker_restart.
start_mqttd() {
	local dir i
	dir=$(mktemp -d "$tmp/mqttd.XXXX")
	mqttd_ini "$dir" "$1" >"$dir/mqttd.ini"
	broker_log=$dir/log
	"$MQTTD" -c "$dir/mqttd.ini" >>"$broker_log" 2>&1 &
	broker_pid=$!
	disown "$broker_pid"	# reaped by the shell, no "Killed" notices
	broker_port=
	for i in $(seq 200); do
		broker_port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' \
		    "$broker_log" | head -1)
		[ -n "$broker_port" ] && break
		sleep 0.05
	done
	if [ -z "$broker_port" ]; then
		echo "compare.sh: mqttd did not start:" >&2
		cat "$broker_log" >&2
		exit 1
	fi
	broker_restart="'$MQTTD' -c '$dir/mqttd.ini' -p $broker_port >>'$broker_log' 2>&1 & echo \$!"
}

# start_mosquitto: as start_mqttd.
start_mosquitto() {
	local dir
	dir=$(mktemp -d "$tmp/mosquitto.XXXX")
	broker_port=$(free_port)
	mosquitto_conf "$dir" "$broker_port" >"$dir/mosquitto.conf"
	broker_log=$dir/log
	"$MOSQUITTO" -c "$dir/mosquitto.conf" >>"$broker_log" 2>&1 &
	broker_pid=$!
	disown "$broker_pid"
	if ! wait_port "$broker_port"; then
		echo "compare.sh: mosquitto did not start:" >&2
		cat "$broker_log" >&2
		exit 1
	fi
	broker_restart="'$MOSQUITTO' -c '$dir/mosquitto.conf' >>'$broker_log' 2>&1 & echo \$!"
}

# Stops the broker (SIGTERM, then SIGKILL after 30 s).
stop_broker() {
	local i
	[ -z "$broker_pid" ] && return
	kill -TERM "$broker_pid" 2>/dev/null
	for i in $(seq 600); do
		kill -0 "$broker_pid" 2>/dev/null || break
		grep -q '^State:.*Z' "/proc/$broker_pid/status" 2>/dev/null && break
		sleep 0.05
	done
	kill -KILL "$broker_pid" 2>/dev/null
	broker_pid=
}

# ===== Runs =====

# run BROKER CONFIG KEY BENCH-ARGS...: one run on a fresh broker.
# BROKER is mqttd or mosquitto, CONFIG the sync level for mqttd.
# Appends "broker=B key=K <bench key=value line> <extras>" to $results.
run() {
	local broker=$1 cfg=$2 key=$3 out line extra="" pid
	shift 3
	if [ "$broker" = mqttd ]; then
		start_mqttd "$cfg"
	else
		start_mosquitto
	fi
	out=$("$BENCH" "$@" -p "$broker_port" -b "$broker_pid" \
	    --restart-cmd "$broker_restart" --label "$key" 2>>"$tmp/bench.err")
	line=$(printf '%s\n' "$out" | grep '^scenario=')
	printf '  %-9s %s\n' "$broker" "$(printf '%s\n' "$out" | grep -v '^scenario=')"
	pid=$(printf '%s\n' "$line" | sed -n 's/.* new_broker_pid=\([0-9]*\).*/\1/p')
	[ -n "$pid" ] && [ "$pid" != 0 ] && broker_pid=$pid
	stop_broker
	if [ "$broker" = mqttd ]; then
		# What mqttd says at shutdown and after a restart.
		extra=$(sed -n 's/.*storage: \([0-9]*\) commits, \([0-9.]*\) changes per commit.*/commits=\1 changes_per_commit=\2/p' \
		    "$broker_log" | tail -1)
		case "$key" in
		recovery*) extra="$extra $(sed -n 's/.*storage: restored .* in \([0-9.]*\) s.*/restored_s=\1/p' \
		    "$broker_log" | tail -1)" ;;
		esac
		case "$key" in
		dur*|recovery*) printf '  %-9s %s\n' "" "log: $extra" ;;
		esac
	fi
	[ -z "$line" ] && line="failed=1"
	echo "broker=$broker key=$key $line $extra" >>"$results"
}

# trio REP KEY ARGS...: mqttd sync=full (key KEY-full), mqttd
# sync=normal (KEY-normal) and mosquitto (KEY) once each, in an order
# that alternates with the repetition.
trio() {
	local rep=$1 key=$2
	shift 2
	if [ $((rep % 2)) = 1 ]; then
		run mqttd full "$key-full" "$@"
		run mqttd normal "$key-normal" "$@"
		run mosquitto - "$key" "$@"
	else
		run mosquitto - "$key" "$@"
		run mqttd normal "$key-normal" "$@"
		run mqttd full "$key-full" "$@"
	fi
}

# median BROKER KEY METRIC: the median of METRIC over the runs so far;
# empty if there were none.
median() {
	sed -n "s/^broker=$1 key=$2 .* $3=\([0-9.]*\).*/\1/p" "$results" |
	    sort -n | awk '{ v[NR] = $1 }
		END { if (NR % 2) print v[(NR + 1) / 2]
		    else if (NR) print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# pair REP KEY MQTTD-SYNC ARGS...: mqttd and mosquitto once each,
# in an order that alternates with the repetition.
pair() {
	local rep=$1 key=$2 sync=$3
	shift 3
	if [ $((rep % 2)) = 1 ]; then
		run mqttd "$sync" "$key" "$@"
		run mosquitto - "$key" "$@"
	else
		run mosquitto - "$key" "$@"
		run mqttd "$sync" "$key" "$@"
	fi
}

section() {
	echo
	echo "== $* =="
}

# ===== What is compared =====

start=$(date +%s)
echo "mqttd vs mosquitto: $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -srm), $(nproc) CPUs"
echo "mqttd: $MQTTD ($("$MQTTD" -V 2>&1 | head -1); $(git -C "$top" describe --always --dirty 2>/dev/null || echo '?'))"
echo "mosquitto: $MOSQUITTO ($("$MOSQUITTO" -h 2>&1 | head -1))"
echo "bench: $BENCH; $REPS repetitions, throughput runs of $DUR s, 64-byte payloads,"
echo "       window 20 per publisher, publishers pause while a subscriber is 1000 behind"
echo
echo "mqttd configuration (sync per scenario, below):"
mqttd_ini TMPDIR SYNC | sed 's/^/    /'
echo "mosquitto configuration:"
mosquitto_conf TMPDIR PORT | sed 's/^/    /'
echo "Both get large queue limits in every scenario: mosquitto 2.0.11 with its"
echo "default max_queued_messages 1000 drops QoS 1/2 messages for connected"
echo "subscribers that are far fewer than 1000 behind in the 4->4 runs (its log:"
echo "\"Outgoing messages are being dropped\"), which would measure that, not speed."
echo "mosquitto has persistence true but writes its store only every"
echo "autosave_interval (1800 s) and at shutdown: it is not crash-safe, and"
echo "acknowledges QoS 1/2 messages before anything is on disk."

# Clean sessions: no SQL at all in mqttd, so sync does not matter.
TP="throughput --duration $DUR --stall 3"
section "clean sessions, 64-byte payloads ($DUR s each)"
for spec in "0 1 1" "1 1 1" "2 1 1" "0 4 4" "1 4 4" "2 4 4"; do
	set -- $spec
	for rep in $(seq "$REPS"); do
		pair "$rep" "tp-q$1-$2x$3" full $TP -q "$1" -P "$2" -S "$3"
	done
done

section "fanout 1 -> 100, QoS 0"
for rep in $(seq "$REPS"); do
	pair "$rep" fanout full fanout --duration "$DUR" \
	    --subs 100 --stall 3
done

section "durable: persistent sessions, QoS 1, $DURABLE_N messages"
DUR_ARGS="durable -q 1 --count $DURABLE_N --stall 10"
for spec in "1 1" "4 4" "16 1"; do
	set -- $spec
	for rep in $(seq "$REPS"); do
		trio "$rep" "dur-$1x$2" $DUR_ARGS -P "$1" -S "$2"
	done
done

# The same load for every broker: half of what mqttd with sync=full
# acknowledged at most, so that its queue stays short and the latency
# is that of the store, not of a backlog.
HALF=$(median mqttd dur-1x1-full puback_rate | awk '{ printf "%d", $1 / 2 }')
if [ "${HALF:-0}" -gt 0 ]; then
	section "durable QoS 1 latency at half the maximum rate: $HALF msg/s" \
	    "(half the median mqttd sync=full durable 1->1 PUBACK rate)," \
	    "1->1, persistent subscriber online, $DUR s"
	for rep in $(seq "$REPS"); do
		trio "$rep" durlat-1x1 throughput -q 1 -P 1 -S 1 --persistent \
		    --rate "$HALF" --duration "$DUR" --stall 3
	done
else
	HALF=0
	section "durable QoS 1 latency: skipped, no durable 1->1 PUBACK rate"
fi

section "$CONNS idle connections"
for rep in $(seq "$REPS"); do
	pair "$rep" connect full connect --conns "$CONNS" --hold 1
done

section "recovery: $RECOVERY_N queued 64-byte messages, kill -9, restart"
for rep in $(seq "$REPS"); do
	pair "$rep" recovery full recovery --count "$RECOVERY_N" \
	    --stall 3
done
[ "$RECOVERY_N" -gt 1000000 ] && echo "(mosquitto keeps at most 1000000 queued)"

if [ "$BIG_N" -gt 0 ]; then
	section "recovery: $BIG_N queued 64-byte messages, once"
	pair 1 recovery-big full recovery --count "$BIG_N" --stall 5
fi

# ===== The table =====

section "medians of $REPS (ratio = mqttd / mosquitto)"
# Rows: mqttd key | mosquitto key | what | metric | per-CPU metric.
awk -v reps="$REPS" '
FNR == NR {
	# Results: collect every key=value of every run.
	b = ""; k = ""
	nf = split($0, f, " ")
	for (i = 1; i <= nf; i++) {
		split(f[i], kv, "=")
		if (kv[1] == "broker") b = kv[2]
		if (kv[1] == "key") k = kv[2]
	}
	for (i = 1; i <= nf; i++) {
		n = index(f[i], "=")
		if (n == 0) continue
		m = substr(f[i], 1, n - 1); v = substr(f[i], n + 1)
		id = b SUBSEP k SUBSEP m
		vals[id] = (id in vals) ? vals[id] " " v : v
	}
	next
}
function median(id,    n, a, i, j, t) {
	if (!(id in vals)) return "-"
	n = split(vals[id], a, " ")
	for (i = 1; i <= n; i++)
		if (a[i] == "NA") return "NA"
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
	if (n % 2) return a[(n + 1) / 2]
	return (a[n / 2] + a[n / 2 + 1]) / 2
}
function sum(id,    n, a, i, s) {
	if (!(id in vals)) return "-"
	n = split(vals[id], a, " ")
	for (i = 1; i <= n; i++) s += a[i]
	return s
}
function fmt(v) {
	if (v == "-" || v == "NA") return v
	if (v + 0 >= 100) return sprintf("%.0f", v)
	return sprintf("%.3g", v)
}
function ratio(a, b) {
	if (a == "-" || b == "-" || a == "NA" || b == "NA" || b + 0 == 0)
		return "-"
	return sprintf("%.2f", a / b)
}
BEGIN { FS = "|" }
{
	mk = $1; qk = $2; what = $3; m = $4; c = $5
	a = median("mqttd" SUBSEP mk SUBSEP m)
	b = median("mosquitto" SUBSEP qk SUBSEP m)
	if (c != "") {
		ca = median("mqttd" SUBSEP mk SUBSEP c)
		cb = median("mosquitto" SUBSEP qk SUBSEP c)
	} else {
		ca = cb = "-"
	}
	la = sum("mqttd" SUBSEP mk SUBSEP "lost") "/" sum("mqttd" SUBSEP mk SUBSEP "dup")
	lb = sum("mosquitto" SUBSEP qk SUBSEP "lost") "/" sum("mosquitto" SUBSEP qk SUBSEP "dup")
	if (a == "-" && b == "-") next
	printf "%-44s %10s %10s %6s %11s %11s %6s  %s  %s\n", what, fmt(a), fmt(b),
	    ratio(a, b), fmt(ca), fmt(cb), ratio(ca, cb), la, lb
}
' "$results" - <<EOF | { printf '%-44s %10s %10s %6s %11s %11s %6s  %s\n' \
    scenario mqttd mosquitto ratio "mqttd/CPUs" "mosq/CPUs" ratio \
    "lost/dup (mqttd, mosquitto; all runs)"; cat; }
tp-q0-1x1|tp-q0-1x1|QoS 0 1->1 delivered msg/s|delivered_rate|msgs_per_broker_cpu_s
tp-q1-1x1|tp-q1-1x1|QoS 1 1->1 delivered msg/s|delivered_rate|msgs_per_broker_cpu_s
tp-q2-1x1|tp-q2-1x1|QoS 2 1->1 delivered msg/s|delivered_rate|msgs_per_broker_cpu_s
tp-q0-4x4|tp-q0-4x4|QoS 0 4->4 delivered msg/s|delivered_rate|msgs_per_broker_cpu_s
tp-q1-4x4|tp-q1-4x4|QoS 1 4->4 delivered msg/s|delivered_rate|msgs_per_broker_cpu_s
tp-q2-4x4|tp-q2-4x4|QoS 2 4->4 delivered msg/s|delivered_rate|msgs_per_broker_cpu_s
tp-q1-1x1|tp-q1-1x1|QoS 1 1->1 latency p50 us|p50_us|
tp-q1-1x1|tp-q1-1x1|QoS 1 1->1 latency p99 us|p99_us|
fanout|fanout|fanout QoS 0 1->100 delivered msg/s|delivered_rate|msgs_per_broker_cpu_s
dur-1x1-full|dur-1x1|durable 1->1 PUBACK msg/s (sync=full)|puback_rate|msgs_per_pub_broker_cpu_s
dur-1x1-normal|dur-1x1|durable 1->1 PUBACK msg/s (sync=normal)|puback_rate|msgs_per_pub_broker_cpu_s
dur-1x1-full|dur-1x1|durable 1->1 redelivery msg/s (sync=full)|drain_rate|msgs_per_drain_broker_cpu_s
dur-1x1-normal|dur-1x1|durable 1->1 redelivery msg/s (sync=normal)|drain_rate|msgs_per_drain_broker_cpu_s
dur-4x4-full|dur-4x4|durable 4->4 PUBACK msg/s (sync=full)|puback_rate|msgs_per_pub_broker_cpu_s
dur-4x4-normal|dur-4x4|durable 4->4 PUBACK msg/s (sync=normal)|puback_rate|msgs_per_pub_broker_cpu_s
dur-4x4-full|dur-4x4|durable 4->4 redelivery msg/s (sync=full)|drain_rate|msgs_per_drain_broker_cpu_s
dur-4x4-normal|dur-4x4|durable 4->4 redelivery msg/s (sync=normal)|drain_rate|msgs_per_drain_broker_cpu_s
dur-16x1-full|dur-16x1|durable 16->1 PUBACK msg/s (sync=full)|puback_rate|msgs_per_pub_broker_cpu_s
dur-16x1-normal|dur-16x1|durable 16->1 PUBACK msg/s (sync=normal)|puback_rate|msgs_per_pub_broker_cpu_s
durlat-1x1-full|durlat-1x1|durable 1->1 @$HALF/s: sent msg/s (full)|sent_rate|msgs_per_broker_cpu_s
durlat-1x1-full|durlat-1x1|durable 1->1 @$HALF/s: latency p50 us (full)|p50_us|
durlat-1x1-full|durlat-1x1|durable 1->1 @$HALF/s: latency p99 us (full)|p99_us|
durlat-1x1-full|durlat-1x1|durable 1->1 @$HALF/s: PUBACK p99 us (full)|ack_p99_us|
durlat-1x1-normal|durlat-1x1|durable 1->1 @$HALF/s: sent msg/s (normal)|sent_rate|msgs_per_broker_cpu_s
durlat-1x1-normal|durlat-1x1|durable 1->1 @$HALF/s: latency p50 us (normal)|p50_us|
durlat-1x1-normal|durlat-1x1|durable 1->1 @$HALF/s: latency p99 us (normal)|p99_us|
durlat-1x1-normal|durlat-1x1|durable 1->1 @$HALF/s: PUBACK p99 us (normal)|ack_p99_us|
dur-1x1-full|-|durable 1->1 mqttd changes/commit (full)|changes_per_commit|
dur-1x1-normal|-|durable 1->1 mqttd changes/commit (normal)|changes_per_commit|
dur-4x4-full|-|durable 4->4 mqttd changes/commit (full)|changes_per_commit|
dur-4x4-normal|-|durable 4->4 mqttd changes/commit (normal)|changes_per_commit|
recovery|-|recovery $RECOVERY_N: mqttd "restored in" s|restored_s|
recovery-big|-|recovery $BIG_N: mqttd "restored in" s|restored_s|
connect|connect|$CONNS conns: connections/s|connect_rate|
connect|connect|$CONNS conns: broker RSS bytes per conn|rss_per_conn_bytes|
recovery|recovery|recovery $RECOVERY_N: s until accepting|restart_accept_s|
recovery|recovery|recovery $RECOVERY_N: s until all delivered|restart_all_delivered_s|
recovery|recovery|recovery $RECOVERY_N: delivered after restart|delivered|
recovery-big|recovery-big|recovery $BIG_N: s until accepting|restart_accept_s|
recovery-big|recovery-big|recovery $BIG_N: s until all delivered|restart_all_delivered_s|
recovery-big|recovery-big|recovery $BIG_N: delivered after restart|delivered|
EOF
echo
echo "mosquitto's durable and recovery figures are without crash safety"
echo "(persistence true writes only at autosave and shutdown); mqttd commits"
echo "each acknowledged message first. Per-CPU columns: messages per second"
echo "of broker CPU; connect and recovery rows have none."
if [ -s "$tmp/bench.err" ]; then
	echo
	echo "bench warnings:"
	sort "$tmp/bench.err" | uniq -c | sort -rn | head -20
fi
echo
echo "took $(( $(date +%s) - start )) s"
