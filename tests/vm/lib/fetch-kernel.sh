#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# fetch-kernel.sh: fetch a Debian kernel that has VDUSE as a module and
# extract vmlinuz plus the modules the VM tests need.
#
# Usage: VM_KERNEL=CHOICE fetch-kernel.sh
#
#   bookworm  (default) the newest linux-image-6.12.N+deb12-amd64-unsigned
#             the machine's apt knows (Debian 12's backported 6.12)
#   newest    the kernel of Debian's development suite (sid), found through
#             its linux-image-amd64 and fetched with a private apt
#             configuration under $CACHE/apt-newest: the machine's apt
#             sources and state are never touched
#   PATH      a kernel .deb, a directory of kernel .debs, or an unpacked tree
#             with (usr/)lib/modules/KVER/ and a vmlinuz
#
#   VDUSE_BLKD_KVER=KVER pins a version (bookworm or newest), e.g.
#   6.12.117+deb12-amd64.  NEWEST_MAX_AGE (seconds, default 3600): how old
#   the private sid package lists may be before they are refreshed.
#
# Result (KVER = e.g. 6.12.117+deb12-amd64):
#   $CACHE/kernel/$KVER/vmlinuz
#   $CACHE/kernel/$KVER/modules/*.ko        decompressed modules
#   $CACHE/kernel/$KVER/modules.order       base modules, load order (deps first)
#   $CACHE/kernel/$KVER/modules.vhost_vdpa  extra modules for load_vhost_vdpa
#   $CACHE/kernel/$KVER/modules.extra       modules loaded on demand (brd, xfs, nbd)
#   $CACHE/kernel/$KVER/modules.dep         the dependency graph used
#   $CACHE/kernel/$KVER/source              where it came from (choice, packages)
# The last line printed on stdout is KVER; progress goes to stderr.
# Exit status: 0 ok, 1 failure (no kernel could be had; the last line on
# stderr says why).
set -euo pipefail

CACHE=${VDUSE_BLKD_CACHE:-/var/cache/vduse-blkd-vm}
CHOICE=${VM_KERNEL:-bookworm}
log() { printf 'fetch-kernel: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Modules loaded at boot, in this order (each preceded by its dependencies).
# virtio_blk first: without it the vduse device attaches but no /dev/vdX.
# crc32c_generic/libcrc32c before the ext4 stack, or mount fails with
# "Cannot load crc32c driver" on 6.12 (the crc32c soft dependency needs
# modprobe); newer kernels have neither (crc32c is a library call there).
# dm_mod (holds the "error" target), dm_flakey and dm_delay for fault tests.
BASE_MODULES=(virtio_blk vhost_iotlb vdpa vduse virtio_vdpa
              crc32c_generic libcrc32c crc16 mbcache jbd2 ext4
              loop null_blk ublk_drv irqbypass vhost
              dm_mod dm_flakey dm_delay)
# Not loaded at boot: a vdpa device binds to the first loaded vdpa bus
# driver, and the default tests want virtio_vdpa (/dev/vdX).
VHOST_VDPA_MODULES=(vhost_vdpa)
# Loaded by the suites that want them (load_extra): brd, a RAM disk as a
# raw block device, and xfs, for the benchmark's image homes; nbd, the
# kernel's NBD client, the peer of the nbd backend's benchmark.  The lists
# are part of a cached kernel's stamp (lists=, below): a kernel extracted
# before a module joined them is extracted again.
EXTRA_MODULES=(brd xfs nbd)
# A kernel without one of these cannot run the suites: the fetch fails.
# Any other module may be built in or missing (logged, not loaded).
ESSENTIAL=" virtio_blk vhost_iotlb vdpa vduse virtio_vdpa ext4 loop vhost vhost_vdpa dm_mod "

mkdir -p "$CACHE/debs" "$CACHE/kernel"
# One fetch at a time per cache (parallel test runs share it).
exec 9> "$CACHE/.fetch.lock"
flock 9

# A kernel directory is ready when its .complete stamp names the same
# module lists and source as this run (edit the lists and it is re-extracted).
lists="${BASE_MODULES[*]} / ${VHOST_VDPA_MODULES[*]} / ${EXTRA_MODULES[*]} / names with _"
ready() {	# KVER [SOURCE]: SOURCE empty = any source
	local f=$CACHE/kernel/$1/.complete
	[[ -f $f && $(sed -n 1p "$f") == "$lists" ]] || return 1
	[[ -z ${2:-} || $(sed -n 2p "$f") == "$2" ]]
}
# Newest ready kernel extracted for CHOICE (bookworm or newest).
cached_kernel() {
	local d k best=()
	for d in "$CACHE"/kernel/*/.complete; do
		[[ -e $d ]] || continue
		k=$(basename "$(dirname "$d")")
		ready "$k" && grep -qx "choice $1" "$CACHE/kernel/$k/source" 2>/dev/null && best+=("$k")
	done
	((${#best[@]})) && printf '%s\n' "${best[@]}" | sort -V | tail -n1
}

# ---------------------------------------------------------------------------
# extraction: ROOT (an unpacked tree) -> $CACHE/kernel/KVER

# find_kver ROOT: the newest (usr/)lib/modules/KVER that has kernel/
find_kver() {
	local d
	for d in "$1"/lib/modules/*/kernel "$1"/usr/lib/modules/*/kernel; do
		if [[ -d $d ]]; then basename "$(dirname "$d")"; fi
	done | sort -V | tail -n1
}

# extract ROOT KVER SOURCE-LINE INFO...: vmlinuz, modules, dependency lists.
# Debian ships no modules.dep (postinst runs depmod). Build the same
# dependency information from each module's own .modinfo "depends="
# (written by modpost from the symbols it imports, which is what depmod
# resolves too), decompressing only the modules we walk through.
extract() {
	local root=$1 kver=$2 src=$3 mroot="" vmlinuz="" d out
	shift 3
	for d in "$root/lib/modules/$kver" "$root/usr/lib/modules/$kver"; do
		[[ -d $d/kernel ]] && mroot=$d
	done
	[[ -n $mroot ]] || die "no modules for $kver in $src"
	# Debian <= 13: /boot/vmlinuz-KVER; since the split into linux-binary
	# and linux-modules: /usr/lib/modules/KVER/vmlinuz.
	for d in "$root/boot/vmlinuz-$kver" "$mroot/vmlinuz" "$root/lib/modules/$kver/vmlinuz" \
		 "$root/usr/lib/modules/$kver/vmlinuz"; do
		[[ -f $d ]] && { vmlinuz=$d; break; }
	done
	[[ -n $vmlinuz ]] || die "no vmlinuz for $kver in $src"

	out=$(mktemp -d "$CACHE/kernel/.out.XXXXXX")
	mkdir -p "$out/modules"
	cp "$vmlinuz" "$out/vmlinuz"

	declare -A path_of=() builtin=() seen=()
	local m n b
	while IFS= read -r m; do
		m=${m#./}
		n=$(basename "$m"); n=${n%%.ko*}; n=${n//-/_}
		path_of[$n]=$m
	done < <(cd "$mroot" && find kernel -name '*.ko*' -type f)
	if [[ -f $mroot/modules.builtin ]]; then
		while IFS= read -r b; do
			n=$(basename "$b"); n=${n%%.ko*}; n=${n//-/_}
			builtin[$n]=1
		done < "$mroot/modules.builtin"
	fi

	# unpack MODPATH -> $out/modules/NAME.ko, NAME with "_" for "-" as
	# the kernel spells it (dm-mod.ko -> dm_mod.ko: /sys/module/dm_mod)
	unpack() {
		local m=$1 base
		base=$(basename "$m"); base=${base%%.ko*}.ko; base=${base//-/_}
		[[ -f $out/modules/$base ]] && return 0
		case $m in
		*.ko.xz)  xz -dc "$mroot/$m" > "$out/modules/$base" ;;
		*.ko.zst) zstd -qdc "$mroot/$m" > "$out/modules/$base" ;;
		*.ko.gz)  gzip -dc "$mroot/$m" > "$out/modules/$base" ;;
		*.ko)     cp "$mroot/$m" "$out/modules/$base" ;;
		*) die "unknown module format: $m" ;;
		esac
	}
	# depends= of a decompressed module, as names separated by spaces
	modinfo_depends() {
		objcopy -O binary --only-section=.modinfo "$1" /dev/stdout 2>/dev/null |
			tr '\0' '\n' | sed -n 's/^depends=//p' | tr ',' ' '
	}
	# Depth-first: a module's dependencies before it, each once. Also
	# records a modules.dep-style line per module in $out/modules.dep.
	order=()
	visit() {	# NAME WHY (top = asked for, dep = a dependency)
		local n=${1//-/_} m d deps ko
		[[ -n ${seen[$n]:-} ]] && return 0
		seen[$n]=1
		m=${path_of[$n]:-}
		if [[ -z $m ]]; then
			[[ -n ${builtin[$n]:-} ]] && { log "$n is built in"; return 0; }
			[[ $2 == top && $ESSENTIAL != *" $n "* ]] &&
				{ log "$n is not in $kver (not needed there: skipped)"; return 0; }
			die "module $n not found in $kver"
		fi
		ko=$(basename "${m%%.ko*}").ko; ko=${ko//-/_}
		unpack "$m"
		deps=$(modinfo_depends "$out/modules/$ko")
		echo "$m: $deps" >> "$out/modules.dep"
		for d in $deps; do visit "$d" dep; done
		order+=("$ko")
	}
	emit() {	# FROM-INDEX LIST-FILE
		local i
		: > "$2"
		for ((i = $1; i < ${#order[@]}; i++)); do echo "${order[$i]}" >> "$2"; done
	}
	for n in "${BASE_MODULES[@]}"; do visit "$n" top; done
	emit 0 "$out/modules.order"
	local nbase=${#order[@]}
	for n in "${VHOST_VDPA_MODULES[@]}"; do visit "$n" top; done
	emit "$nbase" "$out/modules.vhost_vdpa"
	local nvhost=${#order[@]}
	for n in "${EXTRA_MODULES[@]}"; do visit "$n" top; done
	emit "$nvhost" "$out/modules.extra"
	touch "$out/modules.dep"

	log "base modules: $(tr '\n' ' ' < "$out/modules.order")"
	log "vhost_vdpa modules: $(tr '\n' ' ' < "$out/modules.vhost_vdpa")"
	log "extra modules: $(tr '\n' ' ' < "$out/modules.extra")"
	{ echo "choice $CHOICE"; printf '%s\n' "$@"; } > "$out/source"
	printf '%s\n%s\n' "$lists" "$src" > "$out/.complete"
	rm -rf "${CACHE:?}/kernel/$kver"
	mv "$out" "$CACHE/kernel/$kver"
	log "kernel $kver ready in $CACHE/kernel/$kver"
}

# extract_debs KVER SOURCE-LINE DEB...: unpack the packages into one tree
# (a split kernel has vmlinuz in one package and modules in another).
extract_debs() {
	local kver=$1 src=$2 work deb
	shift 2
	work=$(mktemp -d "$CACHE/kernel/.x.XXXXXX")
	# shellcheck disable=SC2064
	trap "rm -rf '$work'" EXIT
	for deb in "$@"; do
		log "extracting $(basename "$deb")"
		dpkg-deb -x "$deb" "$work/root"
	done
	[[ -n $kver ]] || kver=$(find_kver "$work/root")
	[[ -n $kver ]] || die "no lib/modules/KVER/kernel in $*"
	extract "$work/root" "$kver" "$src" "$@"
	rm -rf "$work"
	trap - EXIT
	KVER=$kver
}

# ---------------------------------------------------------------------------
# bookworm: Debian 12's 6.12 through the machine's own apt

fetch_bookworm() {
	local pkg_re='^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$' list ver="" pkg kver deb k

	candidates() {	# "candidate-version package" for every matching package
		local pkgs
		pkgs=$(apt-cache pkgnames linux-image-6.12. 2>/dev/null | grep -E "$pkg_re" || true)
		[[ -n $pkgs ]] || return 0
		# shellcheck disable=SC2086
		apt-cache policy $pkgs 2>/dev/null | awk '
			/^[^ ]/            { p = $1; sub(/:$/, "", p) }
			/^  Candidate:/    { if ($2 != "(none)") print $2, p }'
	}
	fallback() {	# reason: use the newest cached bookworm kernel or .deb, or fail
		if k=$(cached_kernel bookworm); then
			log "$1; using cached $k"
			echo "$k"; exit 0
		fi
		deb=$(find "$CACHE/debs" -maxdepth 1 -name 'linux-image-6.12.*+deb12-amd64-unsigned_*.deb' |
			sort -V | tail -n1)
		[[ -n $deb ]] || die "$1, and no bookworm kernel is cached"
		log "$1; using cached $(basename "$deb")"
		pkg=$(basename "$deb"); pkg=${pkg%%_*}
		kver=${pkg#linux-image-}; kver=${kver%-unsigned}
		extract_debs "$kver" "$pkg" "$deb"
		echo "$KVER"; exit 0
	}

	if [[ -n ${VDUSE_BLKD_KVER:-} ]]; then
		pkg="linux-image-${VDUSE_BLKD_KVER}-unsigned"
		ready "$VDUSE_BLKD_KVER" "$pkg" ||
			ver=$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ {print $2}')
	else
		list=$(candidates)
		if [[ -z $list ]]; then
			log "no 6.12 kernel candidate known to apt; running apt-get update"
			apt-get update -qq >&2 || log "apt-get update failed"
			list=$(candidates)
		fi
		[[ -n $list ]] || fallback "apt has no linux-image-6.12.*+deb12-amd64-unsigned candidate"
		read -r ver pkg < <(printf '%s\n' "$list" | sort -V | tail -n1)
	fi
	kver=${pkg#linux-image-}; kver=${kver%-unsigned}
	if ready "$kver" "$pkg"; then
		log "using cached $kver ($CACHE/kernel/$kver)"
		echo "$kver"; exit 0
	fi

	deb=$(find "$CACHE/debs" -maxdepth 1 -name "${pkg}_*.deb" | sort -V | tail -n1)
	if [[ -z $deb ]]; then
		[[ -n $ver && $ver != "(none)" ]] || fallback "no apt candidate for $pkg"
		log "downloading $pkg=$ver (about 100 MB) into $CACHE/debs"
		local tmpdl
		tmpdl=$(mktemp -d "$CACHE/debs/.dl.XXXXXX")
		chmod 755 "$tmpdl"; chown _apt "$tmpdl" 2>/dev/null || true	# apt's sandbox user
		if ! (cd "$tmpdl" && apt-get download -q "$pkg=$ver" >&2); then
			rm -rf "$tmpdl"
			fallback "apt-get download $pkg=$ver failed"
		fi
		# One 6.12 .deb is plenty: drop the older ones.
		find "$CACHE/debs" -maxdepth 1 -name 'linux-image-6.12.*.deb' -delete
		mv "$tmpdl"/*.deb "$CACHE/debs/"
		rmdir "$tmpdl"
		deb=$(find "$CACHE/debs" -maxdepth 1 -name "${pkg}_*.deb" | sort -V | tail -n1)
	fi
	extract_debs "$kver" "$pkg" "$deb"
	echo "$KVER"
}

# ---------------------------------------------------------------------------
# newest: Debian's development suite, through a private apt configuration

fetch_newest() {
	local adir=$CACHE/apt-newest uri meta kver ver deps pkgs=() p pv debdir k
	local -a apt_opts

	fallback() {
		k=$(cached_kernel newest) || die "$1, and no newest kernel is cached"
		log "$1; using cached $k"
		echo "$k"; exit 0
	}

	# The machine's Debian mirror, as its own apt configuration names it.
	uri=$("$(dirname "${BASH_SOURCE[0]}")/apt-mirror.sh" || true)
	[[ -n $uri ]] || fallback "the machine's apt configuration names no Debian mirror"

	mkdir -p "$adir/state/lists/partial" "$adir/cache/archives/partial"
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri sid main" \
		> "$adir/sources.list"
	apt_opts=(-o "Dir::Etc::SourceList=$adir/sources.list" -o Dir::Etc::SourceParts=/dev/null
		  -o "Dir::State=$adir/state" -o Dir::State::status=/dev/null
		  -o "Dir::Cache=$adir/cache" -o Dir::Etc::Preferences=/dev/null
		  -o Dir::Etc::PreferencesParts=/dev/null -o APT::Sandbox::User=root)

	local stamp=$adir/state/.updated age=${NEWEST_MAX_AGE:-3600}
	if [[ ! -f $stamp || $(( $(date +%s) - $(stat -c %Y "$stamp") )) -ge $age ||
	      $(cat "$stamp") != "$uri" ]]; then
		log "apt-get update of sid (private lists in $adir)"
		if apt-get "${apt_opts[@]}" update -qq >&2; then
			echo "$uri" > "$stamp"
		else
			rm -f "$stamp"
			fallback "apt-get update of sid failed"
		fi
	fi

	if [[ -n ${VDUSE_BLKD_KVER:-} ]]; then
		kver=$VDUSE_BLKD_KVER
	else
		# linux-image-amd64 depends on linux-image-KVER (= VERSION).
		meta=$(apt-cache "${apt_opts[@]}" show --no-all-versions linux-image-amd64 2>/dev/null |
			sed -n 's/^Depends: //p' | tr ',' '\n' |
			sed -n 's/^ *linux-image-\([0-9][^ ]*\).*/\1/p' | head -n1)
		[[ -n $meta ]] || fallback "sid's linux-image-amd64 names no kernel"
		kver=$meta
	fi
	if ready "$kver" "sid linux-image-$kver"; then
		log "using cached $kver ($CACHE/kernel/$kver)"
		echo "$kver"; exit 0
	fi

	# The kernel's files are in linux-image-KVER itself (Debian <= 13) or in
	# the linux-binary-KVER and linux-modules-KVER it depends on.
	ver=$(apt-cache "${apt_opts[@]}" show --no-all-versions "linux-image-$kver" 2>/dev/null |
		sed -n 's/^Version: //p' | head -n1)
	[[ -n $ver ]] || fallback "sid has no linux-image-$kver"
	deps=$(apt-cache "${apt_opts[@]}" show --no-all-versions "linux-image-$kver" |
		sed -n 's/^Depends: //p' | sed 's/[,|]/\n/g' | awk '{ print $1 }')
	for p in $deps; do
		[[ $p == "linux-binary-$kver" || $p == "linux-modules-$kver" ]] && pkgs+=("$p")
	done
	((${#pkgs[@]})) || pkgs=("linux-image-$kver")

	debdir=$CACHE/debs/newest
	mkdir -p "$debdir"
	local debs=() missing=()
	for p in "${pkgs[@]}"; do
		pv=$(apt-cache "${apt_opts[@]}" show --no-all-versions "$p" | sed -n 's/^Version: //p' | head -n1)
		[[ -n $pv ]] || fallback "sid has no $p"
		# apt names files with the epoch's colon as %3a; kernels have none.
		if [[ -f $debdir/${p}_${pv}_amd64.deb ]]; then
			debs+=("$debdir/${p}_${pv}_amd64.deb")
		else
			missing+=("$p=$pv")
		fi
	done
	if ((${#missing[@]})); then
		log "downloading ${missing[*]} (about 130 MB) into $debdir"
		local tmpdl
		tmpdl=$(mktemp -d "$debdir/.dl.XXXXXX")
		if ! (cd "$tmpdl" && apt-get "${apt_opts[@]}" download -q "${missing[@]}" >&2); then
			rm -rf "$tmpdl"
			fallback "apt-get download ${missing[*]} from sid failed"
		fi
		# Keep the packages of this version only.
		find "$debdir" -maxdepth 1 -name 'linux-*.deb' ! -name "*_${ver}_amd64.deb" -delete
		mv "$tmpdl"/*.deb "$debdir/"
		rmdir "$tmpdl"
		debs=()
		for p in "${pkgs[@]}"; do debs+=("$(find "$debdir" -maxdepth 1 -name "${p}_*.deb" | sort -V | tail -n1)"); done
	fi
	extract_debs "$kver" "sid linux-image-$kver" "${debs[@]}"
	echo "$KVER"
}

# ---------------------------------------------------------------------------
# PATH: a .deb, a directory of .debs, or an unpacked tree

fetch_path() {
	local path src kver debs=()
	path=$(realpath -e "$CHOICE") || die "VM_KERNEL=$CHOICE: no such file or directory"
	if [[ -f $path ]]; then
		debs=("$path")
	elif compgen -G "$path/*.deb" >/dev/null; then
		debs=("$path"/*.deb)
	fi
	if ((${#debs[@]})); then
		src="path $(stat -c '%n %s %Y' "${debs[@]}" | tr '\n' ' ')"
		for kver in "$CACHE"/kernel/*/.complete; do
			kver=$(basename "$(dirname "$kver")")
			if ready "$kver" "$src"; then
				log "using cached $kver ($CACHE/kernel/$kver)"
				echo "$kver"; return
			fi
		done
		extract_debs "" "$src" "${debs[@]}"
		echo "$KVER"
		return
	fi
	kver=$(find_kver "$path")
	[[ -n $kver ]] || die "VM_KERNEL=$path: neither .deb files nor a tree with (usr/)lib/modules/KVER/kernel"
	src="path $path $(stat -c %Y "$path")"
	if ready "$kver" "$src"; then
		log "using cached $kver ($CACHE/kernel/$kver)"
		echo "$kver"; return
	fi
	extract "$path" "$kver" "$src" "$path"
	echo "$kver"
}

case $CHOICE in
bookworm) fetch_bookworm ;;
newest) fetch_newest ;;
*/*|*.deb) fetch_path ;;
*) die "VM_KERNEL=$CHOICE: expected bookworm, newest or a path" ;;
esac
