#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# recovery.sh: the disk outlives its daemon (issue 9).
#
#   kill9     fio randwrite + crc32c verify on 2 queues and 2 jobs; kill -9 of
#             the daemon (--attach) while requests are in flight, then the same
#             command line again: it takes the device over and prints the same
#             /dev/vdX.  RECOVERY_ROUNDS rounds in a row; fio ends with zero
#             errors, no I/O error in dmesg.
#   fullqueue kill -9 with the whole queue (256) in flight in the daemon (a
#             dm-delay image holds them): the takeover runs every request
#             again, fio ends without error.
#   noattach  the same without --attach (vdpa dev add by hand): I/O resumes.
#   durable   data written with O_DIRECT and fsync before a kill -9 is in the
#             image, and reads back through the disk after the takeover.
#   upgrade   SIGHUP under the same fio load: live upgrade, same PID, zero
#             errors; then after a new binary was installed (another inode)
#             the process runs it.
#   refuse    corrupt, missing state file, changed options (queue count,
#             queue size, block size, capacity, read-only), a second daemon
#             while one serves: exit 1 naming the difference, the device
#             untouched; the right command takes over afterwards.
#   stop      SIGTERM of a daemon that took over detaches and destroys the
#             device and removes its state file, exit 0.
#   badexec   SIGHUP under load when the path holds a file that cannot be
#             executed: the daemon says why and keeps serving, same binary.
#   direct    --direct on a block device, whose bounce buffer is the daemon's
#             own memory (VDUSE_IOTLB_REG_UMEM): kill -9 under the fio load
#             (the kernel takes the buffers in flight back when the fd
#             closes) and a live upgrade (the daemon gives them back before
#             its exec); each new daemon registers its own again; zero errors.
#
# The pauses are measured and printed as notes: from the kill (or SIGHUP) to
# the restarted daemon printing its node, to the disk completing requests
# again, fio's largest completion latency, and the daemon's own "serving again
# after N ms".
#
# Knobs (kernel command line, e.g. VM_APPEND="RECOVERY_ONLY='kill9 stop'"):
#   RECOVERY_ONLY    parts to run (default: kill9 fullqueue noattach durable upgrade refuse
#                    stop badexec direct)
#   RECOVERY_ROUNDS  kill -9 rounds of kill9 (default 3)
#   RECOVERY_FIO_MB  MiB each of fio's 2 jobs writes and verifies per run (default 8)
. /tests/lib.sh

ONLY=${RECOVERY_ONLY:-kill9 fullqueue noattach durable upgrade refuse stop badexec direct}
ROUNDS=${RECOVERY_ROUNDS:-3}
FIO_MB=${RECOVERY_FIO_MB:-8}
SDIR=/tmp/vdb-state
# Set when I/O is stuck on a disk whose daemon is gone: deleting that vdpa
# device would wait for the I/O forever, so it is left alone.
STUCK=

wants() { case " $ONLY " in *" $1 "*) return 0 ;; esac; return 1; }
now() { cut -d' ' -f1 /proc/uptime; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
ms_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%d", (b - a) * 1000 }'; }
oneline() { tr '\n' '|' < "$1"; }

# alive PID: running (a zombie is not).
alive() {
	_st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
	[ -n "$_st" ] && [ "$_st" != Z ]
}

# wait_gone PID SECS: wait until PID has exited, its status in WRC; returns 1
# if it still runs after SECS.
wait_gone() {
	_t=$(($2 * 10))
	while alive "$1"; do
		[ $_t -le 0 ] && return 1
		_t=$((_t - 1))
		sleep 0.1
	done
	wait "$1" 2>/dev/null
	WRC=$?
	return 0
}

# ios DEV: requests the disk completed so far (reads + writes).
ios() { awk '{ print $1 + $5 }' "/sys/block/${1#/dev/}/stat"; }

# wait_progress DEV FROM SECS: until the disk completed more than FROM requests.
wait_progress() {
	_t=$(($3 * 20))
	while [ "$(ios "$1")" -le "$2" ]; do
		[ $_t -le 0 ] && return 1
		_t=$((_t - 1))
		sleep 0.05
	done
}

# max_clat_us JSON: fio's largest completion latency (us) in a json output.
max_clat_us() {
	awk '/"clat_ns"/ { c = 1; next }
		c && /"max"/ { v = $0; gsub(/[^0-9]/, "", v); if (v + 0 > m) m = v + 0; c = 0 }
		END { printf "%d", m / 1000 }' "$1" 2>/dev/null
}

# fio_errors JSON: the sum of the jobs' "error" fields.
fio_errors() {
	awk '/"error" :/ { v = $0; gsub(/[^0-9]/, "", v); s += v } END { print s + 0 }' "$1" 2>/dev/null
}

# fio_loop DEV: fio randwrite + crc32c verify runs, 2 jobs of FIO_MB each in
# their own region, one run after another until /tmp/fio.stop exists.  One
# line per run in /tmp/fio.runs: "EXIT-STATUS MAX-CLAT-US ERRORS".
fio_loop() {
	rm -f /tmp/fio.stop /tmp/fio.runs /tmp/fio.*.json /tmp/fio.*.err
	_n=0
	while [ ! -e /tmp/fio.stop ]; do
		_n=$((_n + 1))
		$FIO --name=v --filename="$1" --ioengine=libaio --direct=1 --rw=randwrite \
			--bs=4k --iodepth=16 --numjobs=2 --size="${FIO_MB}M" \
			--offset_increment="${FIO_MB}M" --verify=crc32c --do_verify=1 \
			--verify_fatal=1 --group_reporting --output-format=json \
			--output="/tmp/fio.$_n.json" >"/tmp/fio.$_n.err" 2>&1
		_rc=$?
		echo "$_rc $(max_clat_us /tmp/fio.$_n.json) $(fio_errors /tmp/fio.$_n.json)" >> /tmp/fio.runs
		[ $_rc -eq 0 ] || { echo "fio run $_n exited $_rc:"; cat "/tmp/fio.$_n.err"; }
	done
}

# fio_start DEV / fio_finish CASE [SECS]: run fio_loop in the background; stop
# it, wait up to SECS (120) and judge every run: exit 0, no error.  FIO_MAX_US is the
# largest completion latency over all runs.
fio_start() {
	fio_loop "$1" &
	FLOOP=$!
}
fio_finish() {
	touch /tmp/fio.stop
	if ! wait_gone $FLOOP "${2:-120}"; then
		fail "$1-fio-completes" "fio still running ${2:-120} s after it was told to stop (I/O stuck?)"
		diag "$1: fio stuck"
		STUCK=1
		return 1
	fi
	_runs=$(wc -l < /tmp/fio.runs)
	_bad=$(awk '$1 != 0 || $3 != 0' /tmp/fio.runs | wc -l)
	FIO_MAX_US=$(awk '$2 > m { m = $2 } END { print m + 0 }' /tmp/fio.runs)
	info "$1: fio runs (exit status, max completion latency us, errors): $(tr '\n' ';' < /tmp/fio.runs)"
	if [ "$_runs" -ge 1 ] && [ "$_bad" -eq 0 ]; then
		pass "$1-fio-verify" "$_runs runs of 2 x ${FIO_MB} MiB, all verified; max completion latency $((FIO_MAX_US / 1000)) ms"
	else
		fail "$1-fio-verify" "$_bad of $_runs runs failed"
	fi
}

# dmesg_mark / dmesg_clean CASE: no new kernel line about an I/O error since
# the mark.
dmesg_mark() { DMESG_N=$(dmesg | wc -l); }

# start_copy NAME BIN IMG: a 64 MiB IMG served by NAME from BIN, a copy of the
# installed binary (a live upgrade may then replace BIN), attached, 2 queues;
# dmesg marked.  Returns daemon_start's status.
start_copy() {
	truncate -s 64M "$3"
	cp "$VDUSE_BLKD" "$2"
	dmesg_mark
	_saved=$VDUSE_BLKD
	VDUSE_BLKD=$2
	daemon_start "$1" --image "$3" --queues 2 --state-dir $SDIR --attach
	_sc_rc=$?
	VDUSE_BLKD=$_saved
	return $_sc_rc
}
dmesg_clean() {
	dmesg | tail -n +$((DMESG_N + 1)) > /tmp/dmesg.new
	_k=$(grep -i -E 'vduse|vdpa|virtio' /tmp/dmesg.new | tail -n 8 | tr '\n' '|')
	[ -n "$_k" ] && info "$1: kernel said: $_k"
	if grep -q -E 'I/O error|blk_update_request|critical' /tmp/dmesg.new; then
		fail "$1-no-io-error-in-dmesg" "$(grep -E 'I/O error|blk_update_request|critical' /tmp/dmesg.new | head -n 5 | tr '\n' '|')"
	else
		pass "$1-no-io-error-in-dmesg"
	fi
}

# keep_log NAME: append the log of the daemon that just ended to /tmp/NAME.all.
keep_log() { cat "/tmp/$1.log" >> "/tmp/$1.all" 2>/dev/null; }

# replays NAME: "N request(s) run again in M takeover(s)", from the logs of
# NAME's daemons so far (the queue threads log it once they replayed).
replays() {
	cat "/tmp/$1.all" "/tmp/$1.log" 2>/dev/null | awk '
		/taking over device/ { t++ }
		/in flight before the restart run again/ { for (i = 1; i < NF; i++) if ($i ~ /^[0-9]+:?$/ && $(i + 1) == "request(s)") n += $i }
		END { printf "%d request(s) run again in %d takeover(s)", n, t }'
}

# diag WHAT: what the daemon's threads and the kernel are doing, for a report
# when I/O or the daemon seems stuck.
diag() {
	info "diagnostics ($1): processes in D or R state, the daemon's threads, the kernel's last lines"
	ps -o pid,stat,args | awk '$2 ~ /^[DR]/' | grep -v -e ' ps ' -e awk
	if [ -n "$DPID" ] && [ -d "/proc/$DPID" ]; then
		for _task in /proc/"$DPID"/task/*; do
			echo "thread ${_task##*/}: $(sed 's/.*) //' "$_task/stat" | cut -d' ' -f1) wchan=$(cat "$_task/wchan" 2>/dev/null)"
			sed 's/^/    /' "$_task/stack" 2>/dev/null
		done
	fi
	dmesg | tail -n 60
}

# kill9 NAME: SIGKILL the daemon DPID and reap it; KILLED_AT is the time.
kill9() {
	KILLED_AT=$(now)
	kill -KILL "$DPID"
	if ! wait_gone "$DPID" 10; then
		fail "$1-dies-on-sigkill" "pid $DPID still there 10 s after SIGKILL"
		diag "$1 after SIGKILL"
		STUCK=1
	fi
	keep_log "$1"
}

# restart CASE NAME DEV ARGS...: after kill9, the same command line with
# --attach again; it must print DEV.  Notes how long it took from the kill to
# the node, and to the disk completing requests again.
restart() {
	_c=$1 _nm=$2 _dev=$3
	shift 3
	_done=$(ios "$_dev")
	if ! daemon_start "$_nm" "$@"; then
		fail "$_c-restart" "the daemon did not start again: $(oneline "/tmp/$_nm.log")"
		return 1
	fi
	_node_ms=$(ms_since "$KILLED_AT")
	if [ "$NODE" != "$_dev" ]; then
		fail "$_c-restart" "printed '$NODE', not $_dev"
		return 1
	fi
	if ! grep -q "taking over device '$_nm'" "/tmp/$_nm.log"; then
		fail "$_c-restart" "no 'taking over device' in its log: $(oneline "/tmp/$_nm.log")"
		return 1
	fi
	pass "$_c-restart" "$NODE again, $_node_ms ms after the kill"
	info "$_c: $(grep -E 'taking over|replayed|run again' "/tmp/$_nm.log" | tr '\n' '|')"
	if [ -n "$FLOOP" ] && alive "$FLOOP"; then
		if wait_progress "$_dev" "$_done" 30; then
			pass "$_c-io-resumes" "requests complete again $(ms_since "$KILLED_AT") ms after the kill"
		else
			fail "$_c-io-resumes" "no request completed within 30 s of the restart"
		fi
	fi
}

# stop_check CASE NAME: SIGTERM the daemon DPID; it exits 0 and leaves no
# vdpa device, no VDUSE device and no state file.
stop_check() {
	kill -TERM "$DPID"
	if ! wait_gone "$DPID" 30; then
		fail "$1-sigterm" "still running 30 s after SIGTERM: $(tail -n 5 "/tmp/$2.log" | tr '\n' '|')"
		return 1
	fi
	keep_log "$2"
	if [ "$WRC" -eq 0 ]; then
		pass "$1-sigterm-exits-0"
	else
		fail "$1-sigterm-exits-0" "exit $WRC: $(tail -n 5 "/tmp/$2.log" | tr '\n' '|')"
	fi
	_left=
	[ -e "/sys/bus/vdpa/devices/$2" ] && _left="$_left vdpa-device"
	[ -e "/dev/vduse/$2" ] && _left="$_left /dev/vduse/$2"
	[ -e "$SDIR/$2.state" ] && _left="$_left $SDIR/$2.state"
	if [ -z "$_left" ]; then
		pass "$1-detached-destroyed-state-removed"
	else
		fail "$1-detached-destroyed-state-removed" "left:$_left"
	fi
}

# cleanup NAME FILES...: whatever a part left of device NAME goes (a running
# daemon gets SIGTERM; a vdpa device without one is deleted unless I/O is
# stuck on it), then FILES.
cleanup() {
	_nm=$1
	shift
	if [ -n "$DPID" ] && alive "$DPID"; then
		# Not attached by the daemon (it printed no node): detach first.
		[ -s "/tmp/$_nm.out" ] || $VDPA dev del "$_nm" 2>/dev/null
		kill -TERM "$DPID"
		if ! wait_gone "$DPID" 30; then
			kill -KILL "$DPID"
			wait_gone "$DPID" 10 || { info "pid $DPID survives SIGKILL: leaving it"; STUCK=1; }
		fi
	fi
	DPID=
	if [ -e "/sys/bus/vdpa/devices/$_nm" ]; then
		if [ -n "$STUCK" ]; then
			info "leaving vdpa device $_nm: I/O is stuck on it"
		else
			info "deleting vdpa device $_nm left without a daemon"
			# No daemon answers the reset: do not wait 30 s for it.
			echo 1 > "/sys/class/vduse/$_nm/msg_timeout" 2>/dev/null
			$VDPA dev del "$_nm"
		fi
	fi
	[ -e "/dev/vduse/$_nm" ] && info "/dev/vduse/$_nm is left (no daemon destroyed it)"
	rm -f "$@" "$SDIR/$_nm.state"
}

info "vduse-blkd: $("$VDUSE_BLKD" --version)"
if ! "$VDUSE_BLKD" --help | grep -q -- '--state-dir'; then
	fail state-dir-option "vduse-blkd has no --state-dir: no crash recovery in this build"
	summary
fi

# --- kill -9 under load, ROUNDS rounds, --attach ----------------------------
if wants kill9; then
	t0=$(now)
	truncate -s 256M /tmp/k9.img
	dmesg_mark
	set -- --image /tmp/k9.img --queues 2 --state-dir $SDIR --attach
	if daemon_start k9 "$@"; then
		DEV=$NODE
		info "k9 is $DEV"
		run_case kill9-state-file-0600 [ "$(stat -c %a $SDIR/k9.state 2>/dev/null)" = 600 ]
		check_ring kill9-ring-layout k9
		fio_start "$DEV"
		round=1
		while [ $round -le "$ROUNDS" ]; do
			sleep 2
			wait_inflight "$DEV" 10 || info "round $round: no request seen in flight"
			inflight=$(tr -s " " < "/sys/block/${DEV#/dev/}/inflight")
			kill9 k9
			info "round $round: killed with (reads writes) in flight:$inflight"
			restart kill9-round-$round k9 "$DEV" "$@" || break
			round=$((round + 1))
		done
		sleep 2
		# Without a daemon fio cannot end: do not wait long for it.
		if alive "$DPID"; then fio_finish kill9; else fio_finish kill9 5; fi
		dmesg_clean kill9
		# The driver never renegotiated: the rings it uses are the ones it chose.
		check_ring kill9-ring-layout-after-takeovers k9
		info "kill9: $(replays k9)"
		[ -z "$STUCK" ] && stop_check kill9 k9
	else
		fail kill9-start "$(oneline /tmp/k9.log)"
	fi
	cleanup k9 /tmp/k9.img
	info "kill9: $(elapsed "$t0") s"
fi

# --- kill -9 with the whole queue in flight: every chain runs again ------------
# The image is a block device behind dm-delay (reads held 500 ms), so the
# daemon itself holds the whole queue (256, the default size) when it is
# killed; the takeover runs them all again, the daemon then serves under its
# filter (recording, lib.sh), and fio ends without error.
if wants fullqueue && [ -z "$STUCK" ]; then
	export DM_DISABLE_UDEV=1
	DMSETUP=/usr/sbin/dmsetup
	truncate -s 256M /tmp/fq.img
	FQLOOP=$($LOSETUP -f --show /tmp/fq.img)
	if [ -b "$FQLOOP" ] && $DMSETUP create fqdelay --table "0 524288 delay $FQLOOP 0 500"; then
		[ -b /dev/mapper/fqdelay ] || $DMSETUP mknodes fqdelay
		dmesg_mark
		set -- --image /dev/mapper/fqdelay --queues 1 --state-dir $SDIR --attach
		if daemon_start fq "$@"; then
			DEV=$NODE
			$FIO --name=fq --filename="$DEV" --ioengine=libaio --direct=1 --rw=randread \
				--bs=4k --iodepth=256 --size=128M --time_based --runtime=15 \
				--output=/tmp/fq.fio >/tmp/fq.err 2>&1 &
			FQ=$!
			t=400 most=0
			while [ $t -gt 0 ]; do
				n=$(awk '{ print $1 + $2 }' "/sys/block/${DEV#/dev/}/inflight")
				[ "$n" -gt $most ] && most=$n
				[ "$n" -ge 256 ] && break
				t=$((t - 1))
				sleep 0.02
			done
			sleep 0.3     # the daemon takes what the driver made available
			info "fullqueue: $most requests in flight at most before the kill"
			kill9 fq
			if restart fullqueue fq "$DEV" "$@"; then
				if wait_gone $FQ 90 && [ "$WRC" -eq 0 ]; then
					pass fullqueue-fio-completes
				else
					fail fullqueue-fio-completes "fio: exit ${WRC:-?}: $(oneline /tmp/fq.err)"
				fi
				# The queue thread says so once it ran them (after the node is printed).
				n=$(sed -n 's/.*queue 0: \([0-9]*\) request(s) in flight before the restart run again.*/\1/p' /tmp/fq.log | head -n1)
				if [ "${n:-0}" -ge 240 ]; then
					pass fullqueue-replayed "$n requests run again"
				else
					fail fullqueue-replayed "only ${n:-0} requests run again (at most $most in flight before): $(oneline /tmp/fq.log)"
				fi
				dmesg_clean fullqueue
				stop_check fullqueue fq
			fi
		else
			fail fullqueue-start "$(oneline /tmp/fq.log)"
		fi
		cleanup fq
		$DMSETUP remove fqdelay
	else
		skip fullqueue "no loop device or dm-delay here"
	fi
	$LOSETUP -d "$FQLOOP" 2>/dev/null
	rm -f /tmp/fq.img
fi

# --- kill -9 without --attach: attached by hand --------------------------------
# plain_start REGEX NAME ARGS...: the daemon in the background; ready once
# its log matches REGEX (within 30 s).
plain_start() {
	_re=$1 _nm=$2
	shift 2
	"$VDUSE_BLKD" $RING_ARGS --name "$_nm" "$@" >"/tmp/$_nm.out" 2>"/tmp/$_nm.log" &
	DPID=$!
	_t=300
	while ! grep -q -E "$_re" "/tmp/$_nm.log"; do
		alive "$DPID" || return 1
		_t=$((_t - 1))
		[ $_t -le 0 ] && return 1
		sleep 0.1
	done
}
if wants noattach && [ -z "$STUCK" ]; then
	t0=$(now)
	truncate -s 64M /tmp/na.img
	dmesg_mark
	set -- --image /tmp/na.img --queues 2 --state-dir $SDIR
	if plain_start "serving .* as /dev/vduse/na:" na "$@" && $VDPA dev add name na mgmtdev vduse && DEV=$(wait_vdisk na 20); then
		info "na is $DEV"
		fio_start "$DEV"
		sleep 2
		wait_inflight "$DEV" 10 || info "no request seen in flight"
		kill9 na
		done_n=$(ios "$DEV")
		if plain_start "taking over device 'na'" na "$@"; then
			pass noattach-restart "'taking over' $(ms_since "$KILLED_AT") ms after the kill"
			info "noattach: $(grep -E 'taking over|replayed|run again' /tmp/na.log | tr '\n' '|')"
			if wait_progress "$DEV" "$done_n" 30; then
				pass noattach-io-resumes "$(ms_since "$KILLED_AT") ms after the kill"
			else
				fail noattach-io-resumes "no request completed within 30 s of the restart"
			fi
			run_case noattach-still-on-bus [ "$(vdisk_of na)" = "$DEV" ]
		else
			fail noattach-restart "$(oneline /tmp/na.log)"
		fi
		sleep 2
		if alive "$DPID"; then fio_finish noattach; else fio_finish noattach 5; fi
		dmesg_clean noattach
		info "noattach: $(replays na)"
		if [ -z "$STUCK" ] && alive "$DPID"; then
			$VDPA dev del na
			stop_check noattach na
		fi
	else
		fail noattach-start "$(oneline /tmp/na.log)"
	fi
	cleanup na /tmp/na.img
	info "noattach: $(elapsed "$t0") s"
fi

# --- durability: what was written and flushed is in the image --------------
if wants durable && [ -z "$STUCK" ]; then
	t0=$(now)
	truncate -s 64M /tmp/du.img
	dd if=/dev/urandom of=/tmp/du.pat bs=1M count=4 2>/dev/null
	set -- --image /tmp/du.img --queues 2 --state-dir $SDIR --attach
	if daemon_start du "$@"; then
		DEV=$NODE
		FLOOP=
		dd if=/tmp/du.pat of="$DEV" bs=1M seek=8 oflag=direct conv=fsync,notrunc 2>/dev/null
		run_case durable-write-fsync [ $? -eq 0 ]
		kill9 du
		dd if=/tmp/du.img of=/tmp/du.back bs=1M skip=8 count=4 2>/dev/null
		run_case durable-in-image-after-kill cmp /tmp/du.pat /tmp/du.back
		if restart durable du "$DEV" "$@"; then
			dd if="$DEV" of=/tmp/du.read bs=1M skip=8 count=4 iflag=direct 2>/dev/null
			run_case durable-reads-back-after-takeover cmp /tmp/du.pat /tmp/du.read
			stop_check durable du
		fi
	else
		fail durable-start "$(oneline /tmp/du.log)"
	fi
	cleanup du /tmp/du.img /tmp/du.pat /tmp/du.back /tmp/du.read
	info "durable: $(elapsed "$t0") s"
fi

# --- live upgrade under load ---------------------------------------------------
# hup CASE NAME: SIGHUP to DPID; passes when the same process logs one more
# "serving again after N ms" within 30 s (UP_MS = N).
hup() {
	_before=$(grep -c "live upgrade: serving .*again after" "/tmp/$2.log")
	_th=$(now)
	kill -HUP "$DPID"
	_t=300
	while [ "$(grep -c "live upgrade: serving .*again after" "/tmp/$2.log")" -le "$_before" ]; do
		alive "$DPID" || break
		_t=$((_t - 1))
		[ $_t -le 0 ] && break
		sleep 0.1
	done
	UP_MS=$(sed -n 's/.*live upgrade: serving .*again after \([0-9]*\) ms.*/\1/p' "/tmp/$2.log" | tail -n 1)
	if ! alive "$DPID"; then
		fail "$1" "the daemon is gone: $(tail -n 5 "/tmp/$2.log" | tr '\n' '|')"
		return 1
	fi
	if [ "$(grep -c "live upgrade: serving .*again after" "/tmp/$2.log")" -le "$_before" ]; then
		fail "$1" "no 'serving again' within 30 s: $(tail -n 5 "/tmp/$2.log" | tr '\n' '|')"
		return 1
	fi
	pass "$1" "same pid $DPID, serving again after $UP_MS ms (by the daemon), $(ms_since "$_th") ms by the script"
}
if wants upgrade && [ -z "$STUCK" ]; then
	t0=$(now)
	start_copy lu /tmp/vdb-new /tmp/lu.img
	ok=$?
	if [ $ok -eq 0 ]; then
		DEV=$NODE
		pid0=$DPID
		ino0=$(stat -L -c %i /proc/"$DPID"/exe)
		fio_start "$DEV"
		sleep 2
		wait_inflight "$DEV" 10 || info "no request seen in flight"
		hup upgrade-hup-1 lu
		sleep 3
		hup upgrade-hup-2 lu
		run_case upgrade-same-binary-same-inode [ "$(stat -L -c %i /proc/"$DPID"/exe)" = "$ino0" ]
		run_case upgrade-log-says-re-executing grep -q "live upgrade: re-executing /tmp/vdb-new" /tmp/lu.log
		# A new binary is installed the way package managers do: another
		# inode renamed over the path.
		sleep 2
		cp "$VDUSE_BLKD" /tmp/vdb-new.tmp && mv /tmp/vdb-new.tmp /tmp/vdb-new
		ino1=$(stat -c %i /tmp/vdb-new)
		hup upgrade-hup-new-binary lu
		ino2=$(stat -L -c %i /proc/"$DPID"/exe)
		if [ "$ino2" = "$ino1" ] && [ "$ino1" != "$ino0" ] && [ "$DPID" = "$pid0" ]; then
			pass upgrade-runs-new-binary "pid $DPID, exe inode $ino0 -> $ino2"
		else
			fail upgrade-runs-new-binary "exe inode was $ino0, is $ino2, the new binary's is $ino1"
		fi
		sleep 1
		fio_finish upgrade
		dmesg_clean upgrade
		[ -z "$STUCK" ] && stop_check upgrade lu
	else
		fail upgrade-start "$(oneline /tmp/lu.log)"
	fi
	cleanup lu /tmp/lu.img /tmp/vdb-new /tmp/vdb-new.tmp
	info "upgrade: $(elapsed "$t0") s"
fi

# --- --direct: the bounce buffer in the daemon's memory, across kill -9 and SIGHUP --
# nr_umem NAME: how often NAME's daemons so far registered their own bounce buffer.
nr_umem() { cat "/tmp/$1.all" "/tmp/$1.log" 2>/dev/null | grep -c "is the daemon's own memory"; }
if wants direct && [ -z "$STUCK" ]; then
	t0=$(now)
	truncate -s 64M /tmp/dr.img
	DLOOP=$($LOSETUP -f --show /tmp/dr.img)
	dmesg_mark
	cp "$VDUSE_BLKD" /tmp/vdb-dr
	_saved=$VDUSE_BLKD
	VDUSE_BLKD=/tmp/vdb-dr
	set -- --image "$DLOOP" --direct --queues 2 --state-dir $SDIR --attach
	if [ -b "$DLOOP" ] && daemon_start dr "$@"; then
		DEV=$NODE
		fio_start "$DEV"
		sleep 2
		wait_inflight "$DEV" 10 || info "direct: no request seen in flight"
		run_case direct-bounce-in-daemon-memory [ "$(nr_umem dr)" -eq 1 ]
		kill9 dr
		restart direct-kill9 dr "$DEV" "$@"
		sleep 2
		run_case direct-kill9-registers-again [ "$(nr_umem dr)" -eq 2 ]
		wait_inflight "$DEV" 10 || info "direct: no request seen in flight"
		if hup direct-hup dr; then
			sleep 2
			run_case direct-hup-registers-again [ "$(nr_umem dr)" -eq 3 ]
		fi
		sleep 1
		fio_finish direct
		dmesg_clean direct
		run_case direct-no-copy-fallback sh -c "! cat /tmp/dr.all /tmp/dr.log | grep -q 'refuses to pin'"
		[ -z "$STUCK" ] && stop_check direct dr
	else
		fail direct-start "$(oneline /tmp/dr.log)"
	fi
	VDUSE_BLKD=$_saved
	cleanup dr /tmp/vdb-dr
	[ -b "$DLOOP" ] && $LOSETUP -d "$DLOOP"
	rm -f /tmp/dr.img
	info "direct: $(elapsed "$t0") s"
fi

# --- refusals: clean exit 1, the device untouched -------------------------------
# untouched: rf is still on the bus as RFDEV, its VDUSE device exists and the
# state file has the content it had (RFSUM; empty: not checked).
untouched() {
	[ -e /dev/vduse/rf ] || { echo "/dev/vduse/rf is gone"; return 1; }
	[ "$(vdisk_of rf)" = "$RFDEV" ] || { echo "the disk is no longer $RFDEV"; return 1; }
	[ -z "$RFSUM" ] || [ "$(md5sum < $SDIR/rf.state)" = "$RFSUM" ] ||
		{ echo "the state file changed"; return 1; }
}

# expect_refusal CASE REGEX ARGS...: vduse-blkd --name rf ARGS exits 1 within
# 30 s, its log matches REGEX, rf untouched.
expect_refusal() {
	_c=$1 _re=$2
	shift 2
	"$VDUSE_BLKD" $RING_ARGS --name rf "$@" >/tmp/ref.out 2>/tmp/ref.log &
	_p=$!
	if ! wait_gone $_p 30; then
		fail "$_c" "it runs: $(oneline /tmp/ref.log)"
		kill -KILL $_p
		wait_gone $_p 10 || info "pid $_p survives SIGKILL"
		return
	fi
	_why=$(untouched)
	if [ "$WRC" -eq 1 ] && grep -q -E -- "$_re" /tmp/ref.log && [ -z "$_why" ]; then
		pass "$_c" "$(grep -m1 -E -- "$_re" /tmp/ref.log | cut -c1-200)"
	else
		fail "$_c" "exit $WRC; ${_why:+$_why; }log: $(oneline /tmp/ref.log)"
	fi
}

# takeover CASE ARGS...: the right command takes rf over and reads the
# pattern back.
takeover() {
	_c=$1
	shift
	KILLED_AT=$(now)
	if daemon_start rf "$@" && [ "$NODE" = "$RFDEV" ]; then
		dd if="$RFDEV" of=/tmp/rf.read bs=1M skip=1 count=1 iflag=direct 2>/dev/null
		if cmp -s /tmp/rf.pat /tmp/rf.read; then
			pass "$_c" "$NODE again, data intact"
		else
			fail "$_c" "the pattern did not read back"
		fi
	else
		fail "$_c" "node '$NODE'; log: $(oneline /tmp/rf.log)"
		return 1
	fi
}

if wants refuse && [ -z "$STUCK" ]; then
	t0=$(now)
	truncate -s 64M /tmp/rf.img
	truncate -s 32M /tmp/rf2.img
	dd if=/dev/urandom of=/tmp/rf.pat bs=1M count=1 2>/dev/null
	set -- --image /tmp/rf.img --queues 2 --state-dir $SDIR --attach
	RFSUM=
	if daemon_start rf "$@"; then
		RFDEV=$NODE
		dd if=/tmp/rf.pat of="$RFDEV" bs=1M seek=1 oflag=direct conv=fsync,notrunc 2>/dev/null
		kill9 rf

		# A corrupt header.
		cp $SDIR/rf.state /tmp/rf.state.good
		dd if=/dev/urandom of=$SDIR/rf.state bs=64 count=1 conv=notrunc 2>/dev/null
		RFSUM=$(md5sum < $SDIR/rf.state)
		expect_refusal refuse-corrupt-state "refusing to take over device 'rf'" "$@"
		cat /tmp/rf.state.good > $SDIR/rf.state
		RFSUM=
		takeover refuse-corrupt-then-restored "$@" && kill9 rf

		# Options that differ from the device's.
		RFSUM=$(md5sum < $SDIR/rf.state)
		expect_refusal refuse-queue-count "refusing to take over device 'rf'.*queue count" \
			--image /tmp/rf.img --queues 1 --state-dir $SDIR --attach
		expect_refusal refuse-queue-size "refusing to take over device 'rf'.*queue size" \
			--image /tmp/rf.img --queues 2 --queue-size 128 --state-dir $SDIR --attach
		expect_refusal refuse-block-size "refusing to take over device 'rf'.*block size" \
			--image /tmp/rf.img --queues 2 --block-size 4096 --state-dir $SDIR --attach
		expect_refusal refuse-capacity "refusing to take over device 'rf'.*capacity" \
			--image /tmp/rf2.img --queues 2 --state-dir $SDIR --attach
		expect_refusal refuse-read-only "refusing to take over device 'rf'.*read-only" \
			--image /tmp/rf.img --queues 2 --readonly --state-dir $SDIR --attach
		RFSUM=
		if takeover refuse-options-then-right-command "$@"; then
			# A second daemon while one serves.
			first=$DPID
			expect_refusal refuse-second-daemon "served by another process" "$@"
			DPID=$first
			if alive "$DPID"; then
				dd if="$RFDEV" of=/tmp/rf.read bs=1M skip=1 count=1 iflag=direct 2>/dev/null
				run_case refuse-first-keeps-serving cmp /tmp/rf.pat /tmp/rf.read
			else
				fail refuse-first-keeps-serving "the first daemon is gone: $(oneline /tmp/rf.log)"
			fi
			kill9 rf
		fi

		# The state file is missing.
		if mv $SDIR/rf.state /tmp/rf.state.away; then
			expect_refusal refuse-missing-state "refusing to take over device 'rf'.*missing" "$@"
			mv /tmp/rf.state.away $SDIR/rf.state
			takeover refuse-missing-then-restored "$@" && stop_check refuse rf
		else
			fail refuse-missing-state "no state file to move away"
		fi
	else
		fail refuse-start "$(oneline /tmp/rf.log)"
	fi
	cleanup rf /tmp/rf.img /tmp/rf2.img /tmp/rf.pat /tmp/rf.read /tmp/rf.state.good /tmp/rf.state.away
	info "refuse: $(elapsed "$t0") s"
fi

# --- a clean stop after a takeover ------------------------------------------------
if wants stop && [ -z "$STUCK" ]; then
	t0=$(now)
	truncate -s 64M /tmp/st.img
	set -- --image /tmp/st.img --queues 2 --state-dir $SDIR --attach
	FLOOP=
	if daemon_start st "$@"; then
		DEV=$NODE
		kill9 st
		restart stop-after-takeover st "$DEV" "$@" && stop_check stop-after-takeover st
	else
		fail stop-start "$(oneline /tmp/st.log)"
	fi
	cleanup st /tmp/st.img
	info "stop: $(elapsed "$t0") s"
fi

# --- a live upgrade whose exec fails ----------------------------------------------
# Last: on 7.2.13 it left the daemon spinning in the kernel (RCU stalls) and
# the disk stuck, which nothing after it could survive.
if wants badexec && [ -z "$STUCK" ]; then
	# Should this part wedge the guest, the results so far are on record.
	# shellcheck disable=SC2154  # lib.sh's counters
	info "before badexec: $_n_pass passed, $_n_fail failed${_failed:+ (failed:$_failed)}"
	t0=$(now)
	start_copy bx /tmp/vdb-bad /tmp/bx.img
	ok=$?
	if [ $ok -eq 0 ]; then
		DEV=$NODE
		ino0=$(stat -L -c %i /proc/"$DPID"/exe)
		fio_start "$DEV"
		sleep 2
		wait_inflight "$DEV" 10 || info "no request seen in flight"
		# A file that cannot be executed where the binary was: the daemon
		# says why and keeps serving with the binary it runs.
		printf 'not an executable\n' > /tmp/vdb-bad.tmp && chmod 755 /tmp/vdb-bad.tmp &&
			mv /tmp/vdb-bad.tmp /tmp/vdb-bad
		n_lu=$(grep -c "live upgrade" /tmp/bx.log)
		kill -HUP "$DPID"
		_t=100
		while [ "$(grep -c "live upgrade" /tmp/bx.log)" -le "$n_lu" ] && [ $_t -gt 0 ]; do
			sleep 0.1
			_t=$((_t - 1))
		done
		sleep 1
		info "after a HUP with a broken binary: $(grep "live upgrade" /tmp/bx.log | tr '\n' '|')"
		if alive "$DPID" && [ "$(stat -L -c %i /proc/"$DPID"/exe)" = "$ino0" ]; then
			done_n=$(ios "$DEV")
			if wait_progress "$DEV" "$done_n" 10; then
				pass badexec-keeps-serving "same pid, same binary, requests complete"
			else
				fail badexec-keeps-serving "no request completed within 10 s"
				diag "after a failed exec"
			fi
		else
			fail badexec-keeps-serving "the daemon is gone or runs another binary: $(tail -n 5 /tmp/bx.log | tr '\n' '|')"
		fi
		sleep 1
		fio_finish badexec
		dmesg_clean badexec
		[ -z "$STUCK" ] && stop_check badexec bx
	else
		fail badexec-start "$(oneline /tmp/bx.log)"
	fi
	cleanup bx /tmp/bx.img /tmp/vdb-bad /tmp/vdb-bad.tmp
	info "badexec: $(elapsed "$t0") s"
fi

summary
