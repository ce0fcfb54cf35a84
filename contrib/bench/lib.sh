# lib.sh — helpers shared by the benchmark scripts in contrib/bench (bash).
#
# A script sources this file, calls bench_init once, starts its servers with
# bench_start (foreground processes, tracked by pid), measures them with
# bench_snapshot before and after a load and bench_cpu_delta between the two,
# and prints with bench_fmt. bench_init installs a trap that stops every
# tracked server (TERM, then KILL of whatever is left of its process tree) and
# removes the temporary directory, so a script leaves nothing behind however
# it ends. Nothing here kills a process the script did not start.
# shellcheck shell=bash

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH_TMP=""
BENCH_PIDS=()
BENCH_CLK_TCK=$(getconf CLK_TCK)

# bench_die MESSAGE: setup error (not a measurement): says why, exits 2.
bench_die() {
	echo "${0##*/}: $*" >&2
	exit 2
}

# bench_init NAME: makes $BENCH_TMP and installs the cleanup trap.
bench_init() {
	BENCH_TMP=$(mktemp -d "/tmp/pinhole-bench-$1.XXXXXX") ||
		bench_die "cannot make a temporary directory"
	trap bench_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

bench_cleanup() {
	local pid
	for pid in "${BENCH_PIDS[@]}"; do
		bench_stop "$pid"
	done
	BENCH_PIDS=()
	if [ -n "$BENCH_TMP" ] && [ -n "${BENCH_KEEP-}" ]; then
		echo "logs and configs kept in $BENCH_TMP (BENCH_KEEP)" >&2
	elif [ -n "$BENCH_TMP" ]; then
		rm -rf "$BENCH_TMP"
	fi
	BENCH_TMP=""
}

# bench_need COMMAND...: dies naming the first command not on the PATH.
bench_need() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || bench_die "$c not found (see contrib/deps.sh)"
	done
}

# bench_free_port: prints a port in 20000-29999 free for UDP and TCP on
# every address (checked with ss; the caller binds it soon after).
bench_free_port() {
	local used port _
	used=" $(ss -Hantu 2>/dev/null | awk '{ n = split($5, a, ":"); printf "%s ", a[n] }') "
	for _ in $(seq 200); do
		port=$((20000 + RANDOM % 10000))
		case "$used" in
		*" $port "*) continue ;;
		esac
		echo "$port"
		return 0
	done
	bench_die "no free port"
}

# bench_start LOG COMMAND [ARGS...]: starts COMMAND in the background with
# stdout and stderr in LOG, tracks it for cleanup, sets BENCH_LAST_PID.
bench_start() {
	local log=$1
	shift
	"$@" >"$log" 2>&1 </dev/null &
	BENCH_LAST_PID=$!
	BENCH_PIDS+=("$BENCH_LAST_PID")
}

# bench_tree PID: prints PID and all its live descendants, one per line.
bench_tree() {
	local root=$1 f s pid="" more=()
	local -A kids=()
	for f in /proc/[0-9]*/stat; do
		{ read -r s <"$f"; } 2>/dev/null || continue
		pid=${s%% *}
		s=${s##*) }
		set -- $s
		kids[$2]+=" $pid"
	done
	local queue=("$root")
	while [ ${#queue[@]} -gt 0 ]; do
		pid=${queue[0]}
		queue=("${queue[@]:1}")
		[ -e "/proc/$pid" ] || continue
		echo "$pid"
		read -ra more <<<"${kids[$pid]-}"
		queue+=("${more[@]}")
	done
}

# bench_alive PID: true while PID runs (a zombie counts as gone).
bench_alive() {
	local s
	{ read -r s <"/proc/$1/stat"; } 2>/dev/null || return 1
	s=${s##*) }
	[ "${s%% *}" != Z ]
}

# bench_stop PID: TERM to PID, up to 5 s for its tree to go, then KILL to
# whatever is left of the tree; reaps PID. Untracks PID.
bench_stop() {
	local root=$1 tree pid="" _
	tree=$(bench_tree "$root")
	kill -TERM "$root" 2>/dev/null
	for _ in $(seq 50); do
		for pid in $tree; do
			bench_alive "$pid" && break
			pid=""
		done
		[ -z "$pid" ] && break
		sleep 0.1
	done
	for pid in $tree $(bench_tree "$root"); do
		bench_alive "$pid" && kill -KILL "$pid" 2>/dev/null
	done
	wait "$root" 2>/dev/null
	local left=()
	for pid in "${BENCH_PIDS[@]}"; do
		[ "$pid" != "$root" ] && left+=("$pid")
	done
	BENCH_PIDS=("${left[@]}")
}

# bench_snapshot PID: prints one line per process of PID's tree:
# "pid starttime ticks comm", ticks = utime + stime + cutime + cstime (the
# last two hold the CPU of children the process reaped, so a short-lived
# helper that exits between two snapshots is still counted).
bench_snapshot() {
	local pid s comm
	for pid in $(bench_tree "$1"); do
		{ read -r s <"/proc/$pid/stat"; } 2>/dev/null || continue
		comm=${s#*(}
		comm=${comm%)*}
		s=${s##*) }
		set -- $s
		echo "$pid ${20} $((${12} + ${13} + ${14} + ${15})) ${comm// /_}"
	done
}

# bench_cpu_delta BEFORE AFTER: reads two snapshot files, prints
# "seconds died new": CPU seconds the tree used between them, processes of
# BEFORE gone in AFTER (their CPU since BEFORE is lost unless their parent
# reaped them), processes of AFTER that BEFORE lacks (counted whole).
bench_cpu_delta() {
	awk -v hz="$BENCH_CLK_TCK" '
		NR == FNR { t[$1 " " $2] = $3; next }
		{ k = $1 " " $2; if (k in t) { d += $3 - t[k]; seen[k] = 1 } else { d += $3; nw++ } }
		END {
			for (k in t) if (!(k in seen)) died++
			printf "%.2f %d %d\n", d / hz, died, nw
		}' "$1" "$2"
}

# bench_settle PID DIR: waits (up to 10 s) until PID's tree is idle, its CPU
# growing by at most a tick per process in half a second, so that the end of
# a server's start-up is not counted as load. Uses DIR for two snapshots.
bench_settle() {
	local _ used procs
	for _ in $(seq 20); do
		bench_snapshot "$1" >"$2/settle.0"
		sleep 0.5
		bench_snapshot "$1" >"$2/settle.1"
		used=$(awk 'NR == FNR { a += $3; next } { b += $3 } END { print b - a }' \
			"$2/settle.0" "$2/settle.1")
		procs=$(wc -l <"$2/settle.1")
		[ "$used" -le "$procs" ] && break
	done
	rm -f "$2/settle.0" "$2/settle.1"
}

# bench_cpu_table BEFORE AFTER: one line per process, "pid comm seconds".
bench_cpu_table() {
	awk -v hz="$BENCH_CLK_TCK" '
		NR == FNR { t[$1 " " $2] = $3; next }
		{ k = $1 " " $2; printf "    %-8s %-16s %6.2f s\n", $1, $4, ($3 - t[k]) / hz }' "$1" "$2"
}

# bench_wait_sip IP PORT PID LOG: waits up to 20 s until the server PID
# answers an OPTIONS on IP:PORT (contrib/sipp/options.xml); dies with the
# end of LOG when PID exits or never answers.
bench_wait_sip() {
	local _
	for _ in $(seq 40); do
		bench_alive "$3" || { tail -n 20 "$4" >&2; bench_die "server pid $3 exited at start (log above)"; }
		sipp -sf "$BENCH_ROOT/contrib/sipp/options.xml" -i "$1" -t u1 -m 1 \
			-recv_timeout 500 -timeout 2 -nostdin "$1:$2" >/dev/null 2>&1 && return 0
	done
	tail -n 20 "$4" >&2
	bench_die "server pid $3 does not answer OPTIONS on $1:$2 (log above)"
}

# bench_fmt FORMAT ARGS...: printf that also works with the shell's
# locale decimal separator set to a comma.
bench_fmt() {
	LC_NUMERIC=C printf "$@"
}

# bench_ratio A B: prints A / B with two decimals, "n/a" when B is zero.
bench_ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.2f\n", a / b }'
}
