#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# fetch-kernel.sh: fetch Debian's 6.12 kernel (which has VDUSE as a module)
# and extract vmlinuz plus the modules the VM tests need.
#
# Usage: fetch-kernel.sh            # newest 6.12 with an apt candidate
#        VDUSE_BLKD_KVER=6.12.x+deb12-amd64 fetch-kernel.sh   # pin one
#
# Result (KVER = e.g. 6.12.115+deb12-amd64):
#   $CACHE/kernel/$KVER/vmlinuz
#   $CACHE/kernel/$KVER/modules/*.ko        decompressed modules
#   $CACHE/kernel/$KVER/modules.order       base modules, load order (deps first)
#   $CACHE/kernel/$KVER/modules.vhost_vdpa  extra modules for load_vhost_vdpa
#   $CACHE/kernel/$KVER/modules.dep         the dependency graph used
# The last line printed on stdout is KVER; progress goes to stderr.
# Exit status: 0 ok, 1 failure (no kernel package could be had).
set -euo pipefail

CACHE=${VDUSE_BLKD_CACHE:-/var/cache/vduse-blkd-vm}
log() { printf 'fetch-kernel: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Modules loaded at boot, in this order (each preceded by its dependencies).
# virtio_blk first: without it the vduse device attaches but no /dev/vdX.
# crc32c_generic/libcrc32c before the ext4 stack, or mount fails with
# "Cannot load crc32c driver" (the crc32c soft dependency needs modprobe).
# dm_mod (with its built-in error target), dm_flakey and dm_delay: the
# failing and stalling images of tests/vm/guest/faults.sh.
BASE_MODULES=(virtio_blk vhost_iotlb vdpa vduse virtio_vdpa
              crc32c_generic libcrc32c crc16 mbcache jbd2 ext4
              loop null_blk ublk_drv irqbypass vhost
              dm_mod dm_flakey dm_delay)
# Not loaded at boot: a vdpa device binds to the first loaded vdpa bus
# driver, and the default tests want virtio_vdpa (/dev/vdX).
VHOST_VDPA_MODULES=(vhost_vdpa)

pkg_re='^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$'

# Print "candidate-version package" for every matching package that has one.
candidates() {
	local pkgs
	pkgs=$(apt-cache pkgnames linux-image-6.12. 2>/dev/null | grep -E "$pkg_re" || true)
	[[ -n $pkgs ]] || return 0
	# shellcheck disable=SC2086
	apt-cache policy $pkgs 2>/dev/null | awk '
		/^[^ ]/            { p = $1; sub(/:$/, "", p) }
		/^  Candidate:/    { if ($2 != "(none)") print $2, p }'
}

# A kernel directory is ready when its .complete stamp names the same
# module lists as this script (edit the lists and it is re-extracted).
stamp="${BASE_MODULES[*]} / ${VHOST_VDPA_MODULES[*]}"
ready() { [[ -f $CACHE/kernel/$1/.complete && $(cat "$CACHE/kernel/$1/.complete") == "$stamp" ]]; }

# Newest kernel usable without apt: extracted, or a .deb in the cache.
# Prints "KVER PKG" (PKG empty when only the extracted tree exists).
cached_fallback() {
	local d k best=""
	for d in "$CACHE"/kernel/*/.complete; do
		[[ -e $d ]] || continue
		k=$(basename "$(dirname "$d")")
		ready "$k" && best+="$k -"$'\n'
	done
	for d in "$CACHE"/debs/linux-image-*-unsigned_*.deb; do
		[[ -e $d ]] || continue
		k=$(basename "$d"); k=${k%%_*}
		best+="${k#linux-image-} $k"$'\n'
	done
	best=$(printf '%s' "$best" | sed 's/-unsigned / /' | sort -V | tail -n1)
	[[ -n $best ]] && echo "$best"
}

mkdir -p "$CACHE/debs" "$CACHE/kernel"
# One fetch at a time per cache (parallel test runs share it).
exec 9> "$CACHE/.fetch.lock"
flock 9

ver="" pkg=""
if [[ -n ${VDUSE_BLKD_KVER:-} ]]; then
	pkg="linux-image-${VDUSE_BLKD_KVER}-unsigned"
	ready "$VDUSE_BLKD_KVER" || ver=$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ {print $2}')
else
	list=$(candidates)
	if [[ -z $list ]]; then
		log "no 6.12 kernel candidate known to apt; running apt-get update"
		apt-get update -qq >&2 || log "apt-get update failed"
		list=$(candidates)
	fi
	if [[ -n $list ]]; then
		read -r ver pkg < <(printf '%s\n' "$list" | sort -V | tail -n1)
	elif read -r k _ < <(cached_fallback); then
		log "apt has no 6.12 candidate; using cached $k"
		pkg=linux-image-$k-unsigned
	else
		die "no linux-image-6.12.*+deb12-amd64-unsigned candidate and nothing cached"
	fi
fi
kver=${pkg#linux-image-}; kver=${kver%-unsigned}
kdir=$CACHE/kernel/$kver

if ready "$kver"; then
	log "using cached $kver ($kdir)"
	echo "$kver"; exit 0
fi

# --- download ------------------------------------------------------------
newest_deb() { find "$CACHE/debs" -maxdepth 1 -name "${pkg}_*.deb" | sort -V | tail -n1; }
deb=$(newest_deb)
if [[ -z $deb ]]; then
	[[ -n $ver && $ver != "(none)" ]] || die "no apt candidate for $pkg"
	log "downloading $pkg=$ver (about 100 MB) into $CACHE/debs"
	tmpdl=$(mktemp -d "$CACHE/debs/.dl.XXXXXX")
	chmod 755 "$tmpdl"; chown _apt "$tmpdl" 2>/dev/null || true	# apt's sandbox user
	if ! (cd "$tmpdl" && apt-get download -q "$pkg=$ver" >&2); then
		rm -rf "$tmpdl"
		if read -r k _ < <(cached_fallback) && ready "$k"; then
			log "download failed; using cached kernel $k"
			echo "$k"; exit 0
		fi
		die "apt-get download $pkg=$ver failed"
	fi
	# One .deb per kernel is plenty: drop the others' packages.
	find "$CACHE/debs" -maxdepth 1 -name 'linux-image-*.deb' -delete
	mv "$tmpdl"/*.deb "$CACHE/debs/"
	rmdir "$tmpdl"
	deb=$(newest_deb)
fi
log "extracting $(basename "$deb")"

# --- extract ---------------------------------------------------------------
work=$(mktemp -d "$CACHE/kernel/.x.XXXXXX")
trap 'rm -rf "$work"' EXIT
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work" \
	--wildcards "./boot/vmlinuz-$kver" "./lib/modules/$kver/*" 2>/dev/null \
	|| dpkg-deb -x "$deb" "$work"
mroot=$work/lib/modules/$kver
[[ -f $work/boot/vmlinuz-$kver ]] || die "no vmlinuz-$kver in $deb"
[[ -d $mroot/kernel ]] || die "no modules in $deb"

out=$work/out
mkdir -p "$out/modules"
cp "$work/boot/vmlinuz-$kver" "$out/vmlinuz"

# Debian's package ships no modules.dep (postinst runs depmod). Build the
# same dependency information from each module's own .modinfo "depends="
# (written by modpost from the symbols it imports, which is what depmod
# resolves too), decompressing only the modules we walk through.
declare -A path_of=() builtin=()
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

# decompress MODPATH -> $out/modules/NAME.ko
unpack() {
	local m=$1 base
	base=$(basename "$m"); base=${base%%.ko*}.ko
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
	local ko=$1
	objcopy -O binary --only-section=.modinfo "$ko" /dev/stdout 2>/dev/null |
		tr '\0' '\n' | sed -n 's/^depends=//p' | tr ',' ' '
}

# Depth-first: a module's dependencies before it, each once. Also records a
# modules.dep-style line per module in $out/modules.dep.
declare -A seen=()
order=()
visit() {	# NAME
	local n=${1//-/_} m d deps ko
	[[ -n ${seen[$n]:-} ]] && return 0
	seen[$n]=1
	m=${path_of[$n]:-}
	if [[ -z $m ]]; then
		[[ -n ${builtin[$n]:-} ]] && { log "$n is built in"; return 0; }
		die "module $n not found in $kver"
	fi
	ko=$(basename "${m%%.ko*}").ko
	unpack "$m"
	deps=$(modinfo_depends "$out/modules/$ko")
	echo "$m: $deps" >> "$out/modules.dep"
	for d in $deps; do visit "$d"; done
	order+=("$ko")
}
resolve() { local n; for n in "$@"; do visit "$n"; done; }
emit() {	# FROM-INDEX LIST-FILE
	local i
	: > "$2"
	for ((i = $1; i < ${#order[@]}; i++)); do echo "${order[$i]}" >> "$2"; done
}

resolve "${BASE_MODULES[@]}"
emit 0 "$out/modules.order"
n=${#order[@]}
resolve "${VHOST_VDPA_MODULES[@]}"
emit "$n" "$out/modules.vhost_vdpa"

log "base modules: $(tr '\n' ' ' < "$out/modules.order")"
log "vhost_vdpa modules: $(tr '\n' ' ' < "$out/modules.vhost_vdpa")"
echo "$pkg=$ver" > "$out/package"
echo "$stamp" > "$out/.complete"

rm -rf "$kdir"
mv "$out" "$kdir"
log "kernel $kver ready in $kdir"
echo "$kver"
