#!/bin/sh
# Functions of the bootfleet initramfs that decide what to trust and how to download: form
# encoding, the boot info parser and checks, retry backoff, resumable downloads with their
# checks, the root layer bookkeeping, the node identity file, and the node overlay check. Sourced by /init (from
# /etc/bootfleet/lib.sh), and by the unit tests, which run them under the host's busybox sh.
# POSIX sh, no eval. The caller defines say() (one console line); node_secret, when set, is
# sent with every download (see wget_node).

# Download and retry policy; src/images/initramfs/README.md ("Downloads") gives the reasons.
BACKOFF_FIRST_MS=1000     # the first retry waits about 1 s ...
BACKOFF_CAP_MS=30000      # ... doubling up to 30 s, each wait jittered by +-50 %
FETCH_FLOOR_S=60          # every download attempt may take this long ...
FETCH_MIN_RATE=1048576    # ... plus its size at 1 MiB/s

# Percent-encodes $1 for an application/x-www-form-urlencoded body: unreserved characters
# stay, everything else becomes %XX of its byte (busybox printf takes "'c" as c's code).
urlencode() {
	rest=$1
	out=''
	while [ -n "$rest" ]; do
		c=${rest%"${rest#?}"}
		rest=${rest#?}
		case "$c" in
		[A-Za-z0-9._~-]) out="$out$c" ;;
		*) out="$out$(printf '%%%02X' "'$c")" ;;
		esac
	done
	echo "$out"
}

NL='
'

# parse_bootinfo FILE: parses the boot info line by line into bi_* variables. Values are only
# ever assigned, never evaluated; bootinfo_problem checks each against what it may contain.
# Unknown keys and lines without "=" are ignored; a trailing CR is dropped.
# The root: bi_layers holds one "<url> <sha256> <size>" line per `layer=` line, in order (the
# base first). A boot set from before layers names its one root with squashfs_url/_sha256/_size
# instead (bi_legacy=1): that becomes bi_layers' one line.
parse_bootinfo() {
	bi_layers=''
	bi_legacy=0
	bi_hostname=''
	bi_image=''
	bi_version=''
	bi_url=''
	bi_sha=''
	bi_size=''
	bi_overlay=''
	bi_overlay_sha=''
	bi_overlay_size=''
	bi_secret=''
	bi_init=/sbin/init
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line%"$(printf '\r')"}
		key=${line%%=*}
		[ "$key" = "$line" ] && continue     # no "=": blank line, comment, junk
		value=${line#*=}
		case "$key" in
		hostname) bi_hostname=$value ;;
		image) bi_image=$value ;;
		version) bi_version=$value ;;
		squashfs_url) bi_url=$value ;;
		squashfs_sha256) bi_sha=$(echo "$value" | tr 'A-F' 'a-f') ;;
		squashfs_size) bi_size=$value ;;
		overlay_url) bi_overlay=$value ;;
		overlay_sha256) bi_overlay_sha=$(echo "$value" | tr 'A-F' 'a-f') ;;
		overlay_size) bi_overlay_size=$value ;;
		node_secret) bi_secret=$value ;;
		init) [ -n "$value" ] && bi_init=$value ;;
		layer) bi_layers="$bi_layers$value$NL" ;;
		esac
	done <"$1"
	if [ -z "$bi_layers" ] && [ -n "$bi_url" ]; then
		bi_legacy=1
		bi_layers="$bi_url $bi_sha $bi_size$NL"
	fi
}

# Echoes why the parsed boot info cannot be used, or nothing when it is fine.
bootinfo_problem() {
	bp_root=$(root_problem)
	[ -z "$bp_root" ] || { echo "$bp_root"; return; }
	case "$bi_overlay" in *[[:space:][:cntrl:]\"\'\`\\]*) echo "a URL has spaces, quotes or control characters"; return ;; esac
	case "$bi_overlay" in '' | http://?* | https://?* | /?*) ;; *) echo "overlay_url is not an http(s) URL"; return ;; esac
	if [ -n "$bi_overlay" ]; then
		case "$bi_overlay_sha" in '') echo "overlay_url without overlay_sha256"; return ;; *[!0-9a-f]*) echo "overlay_sha256 is not hex"; return ;; esac
		[ "${#bi_overlay_sha}" = 64 ] || { echo "overlay_sha256 is not 64 hex digits"; return; }
		case "$bi_overlay_size" in '') echo "overlay_url without overlay_size"; return ;; *[!0-9]*) echo "overlay_size is not a number"; return ;; esac
	fi
	case "$bi_hostname" in *[!A-Za-z0-9.-]*) echo "hostname has characters other than letters, digits, '.' and '-'"; return ;; esac
	case "$bi_init" in /*) ;; *) echo "init is not an absolute path"; return ;; esac
	case "$bi_init" in *[!A-Za-z0-9._/-]*) echo "init has unexpected characters"; return ;; esac
	secret_ok "$bi_secret" || { echo "node_secret is not 64 lowercase hex digits"; return; }
}

# root_problem: why the root the boot info names cannot be used: one set of layer= lines, or
# the single-root keys of a boot set from before layers, never both.
root_problem() {
	if [ "$bi_legacy" = 1 ]; then
		legacy_root_problem
	elif [ -n "$bi_url" ]; then
		echo "both layer= lines and squashfs_url: a boot info names one root"
	elif [ -z "$bi_layers" ]; then
		echo "no layer= lines (and no squashfs_url)"
	else
		layers_problem
	fi
}

# legacy_root_problem: why the single-root keys of a boot set from before layers are unusable.
legacy_root_problem() {
	case "$bi_url" in
	http://?* | https://?* | /?*) ;;
	*) echo "squashfs_url is not an http(s) URL"; return ;;
	esac
	case "$bi_url" in *[[:space:][:cntrl:]\"\'\`\\]*) echo "a URL has spaces, quotes or control characters"; return ;; esac
	case "$bi_sha" in *[!0-9a-f]*) echo "squashfs_sha256 is not hex"; return ;; esac
	[ "${#bi_sha}" = 64 ] || { echo "squashfs_sha256 is not 64 hex digits"; return; }
	case "$bi_size" in '') ;; *[!0-9]*) echo "squashfs_size is not a number"; return ;; esac
}

# layers_problem: why the `layer=<url> <sha256> <size>` lines in bi_layers are unusable. The
# sha256 names the file on the node's tmpfs, so it must be exactly 64 lower-case hex digits.
layers_problem() {
	lp_n=0
	while IFS=' ' read -r lp_url lp_sha lp_size lp_extra; do
		[ -n "$lp_url$lp_sha$lp_size" ] || continue
		lp_n=$((lp_n + 1))
		[ -z "$lp_extra" ] || { echo "layer $lp_n has more than <url> <sha256> <size>"; return; }
		case "$lp_url" in
		http://?* | https://?* | /?*) ;;
		*) echo "layer $lp_n URL is not an http(s) URL"; return ;;
		esac
		case "$lp_url" in *[[:cntrl:]\"\'\`\\]*) echo "a URL has spaces, quotes or control characters"; return ;; esac
		case "$lp_sha" in '' | *[!0-9a-f]*) echo "layer $lp_n sha256 is not lower-case hex"; return ;; esac
		[ "${#lp_sha}" = 64 ] || { echo "layer $lp_n sha256 is not 64 hex digits"; return; }
		case "$lp_size" in '' | *[!0-9]*) echo "layer $lp_n size is not a number"; return ;; esac
	done <<LAYERS
$bi_layers
LAYERS
	[ "$lp_n" -gt 0 ] || echo "no layer= lines (only empty ones)"
}

# layer_count: how many root layers bi_layers names.
layer_count() {
	printf '%s' "$bi_layers" | grep -c .
}

# forget_other_layers DIR LIST: deletes the files in DIR (downloads and their ".ok" marks, named
# <sha256>.squashfs…) of layers that LIST ("<url> <sha256> <size>" lines) no longer names, so a
# node never keeps, let alone mounts, a layer of another build than the latest boot info's.
forget_other_layers() {
	for fo_file in "$1"/*; do
		[ -e "$fo_file" ] || continue
		fo_sha=${fo_file##*/}
		fo_sha=${fo_sha%%.*}
		grep -q -e " $fo_sha " -e " $fo_sha\$" "$2" 2>/dev/null || rm -f "$fo_file"
	done
}

# layers_missing_bytes DIR LIST: bytes still to download for the layers in LIST (verified ones,
# marked <sha256>.squashfs.ok, count nothing; so does a layer of unknown size).
layers_missing_bytes() {
	lm_total=0
	while IFS=' ' read -r lm_url lm_sha lm_size; do
		[ -n "$lm_url" ] && [ -n "$lm_sha" ] && [ -n "$lm_size" ] || continue
		[ -e "$1/$lm_sha.squashfs.ok" ] && continue
		lm_total=$((lm_total + lm_size - $(file_size "$1/$lm_sha.squashfs")))
	done <"$2"
	echo "$lm_total"
}

# layers_summary LIST: "<first 12 hex digits of the sha256>/<size>" of each layer, base first,
# space-separated (for the verified event, whose detail the controller keeps short).
layers_summary() {
	while IFS=' ' read -r _ ls_sha ls_size; do
		[ -n "$ls_sha" ] || continue
		printf '%s/%s\n' "$(echo "$ls_sha" | cut -c 1-12)" "${ls_size:-?}"
	done <"$1" | tr '\n' ' ' | sed 's/ $//'
}

# secret_ok VALUE: is VALUE a node secret (64 lowercase hex digits)? It is sent back to the
# controller byte for byte, so no case folding.
secret_ok() {
	case "$1" in *[!0-9a-f]*) return 1 ;; esac
	[ "${#1}" = 64 ]
}

# write_node_file FILE CONTROLLER MAC SECRET: the node's identity for the running image
# (/run/bootfleet/node, moved with /run into the new root): key=value lines, readable by root
# only because the secret authenticates the node's calls to the controller. Created under
# umask 077, so it is never readable by others, not even for a moment.
write_node_file() {
	rm -f "$1"
	(
		umask 077
		printf 'controller=%s\nmac=%s\nsecret=%s\n' "$2" "$3" "$4" >"$1"
	)
}

# backoff_ms ATTEMPT RANDOM: milliseconds to wait before retry ATTEMPT (1, 2, ...). The base
# doubles from BACKOFF_FIRST_MS up to BACKOFF_CAP_MS; the wait is uniform in [base/2, 3*base/2],
# picked by RANDOM (any non-negative integer), so nodes that failed together retry apart.
backoff_ms() {
	bo_base=$BACKOFF_FIRST_MS
	bo_n=1
	while [ "$bo_n" -lt "$1" ] && [ "$bo_base" -lt "$BACKOFF_CAP_MS" ]; do
		bo_base=$((bo_base * 2))
		bo_n=$((bo_n + 1))
	done
	[ "$bo_base" -gt "$BACKOFF_CAP_MS" ] && bo_base=$BACKOFF_CAP_MS
	echo $((bo_base / 2 + $2 % (bo_base + 1)))
}

# A random 32-bit number from the kernel's CRNG, which mixes in device data such as MAC
# addresses, so identical machines powered on at the same instant still differ. ash's $RANDOM
# (seeded from PID, 1 for every node, and boot time) is only the fallback.
random_number() {
	rn=$(od -An -N4 -tu4 /dev/urandom 2>/dev/null | tr -d ' \n')
	case "$rn" in '' | *[!0-9]*) rn=${RANDOM:-0} ;; esac
	echo "$rn"
}

# backoff_seconds ATTEMPT: the jittered wait before retry ATTEMPT, as seconds for sleep ("2.417").
backoff_seconds() {
	bs_ms=$(backoff_ms "$1" "$(random_number)")
	printf '%d.%03d\n' $((bs_ms / 1000)) $((bs_ms % 1000))
}

# fetch_timeout SIZE: seconds one download attempt of SIZE bytes (empty: unknown) may take.
fetch_timeout() {
	echo $((FETCH_FLOOR_S + ${1:-0} / FETCH_MIN_RATE))
}

# file_size FILE: its length in bytes, 0 when it does not exist.
file_size() {
	if [ -f "$1" ]; then echo $(($(wc -c <"$1"))); else echo 0; fi
}

# wget_node SECONDS ARGS...: busybox wget limited to SECONDS (wget's own -T segfaults in
# busybox 1.35, Debian 12), carrying "Authorization: Bearer <node_secret>" once the node has
# its secret. Only the boot info request goes without (it is what hands the secret out).
wget_node() {
	wn_seconds=$1
	shift
	[ -n "${node_secret:-}" ] && set -- --header "Authorization: Bearer $node_secret" "$@"
	timeout "$wn_seconds" wget "$@"
}

# fetch_attempt URL FILE SIZE: one download attempt into FILE, continuing after the bytes FILE
# already holds. busybox wget -c sends "Range: bytes=<have>-" and appends a 206 answer; a 200
# answer (server ignores the range) makes it rewrite the file from byte 0 itself. SIZE (bytes,
# may be empty) sets the time limit; a FILE already SIZE long is not fetched again.
# Returns 0 when the server sent everything (the caller then checks size and sha256);
# 1 when the attempt failed: the bytes so far stay for the next attempt;
# 2 when the server refused to continue (416): FILE is removed, the next attempt starts at 0.
# fetch_why says why an attempt failed.
fetch_attempt() {
	fetch_why=''
	fa_have=$(file_size "$2")
	if [ -n "$3" ] && [ "$fa_have" -gt 0 ] && [ "$fa_have" -ge "$3" ]; then
		# Complete already (the time limit hit after the last byte): the checks decide.
		[ "$fa_have" = "$3" ] && return 0
		rm -f "$2"  # longer than the file the boot info names: not a part of it
		fa_have=0
	fi
	if [ "$fa_have" -gt 0 ]; then
		say "resuming $1 at $fa_have bytes"
	else
		rm -f "$2"
		say "fetching $1"
	fi
	fa_seconds=$(fetch_timeout "$3")
	wget_node "$fa_seconds" -q -c -O "$2" "$1" 2>"$2.err"
	fa_rc=$?
	fetch_why=$(tail -n 1 "$2.err")
	rm -f "$2.err"
	[ "$fa_rc" = 0 ] && return 0
	# busybox timeout kills wget with SIGTERM: exit 143, and wget had no time to say anything.
	[ "$fa_rc" -gt 128 ] && fetch_why="no complete answer within ${fa_seconds}s"
	[ -n "$fetch_why" ] || fetch_why="wget exit $fa_rc"
	case "$fetch_why" in
	*'server returned error: HTTP/'*' 416 '* | *'server returned error: HTTP/'*' 416')
		rm -f "$2"
		fetch_why="$fetch_why: starting again from byte 0"
		return 2
		;;
	esac
	return 1
}

# file_matches FILE SIZE SHA256: does FILE have SIZE bytes (when SIZE is not empty) and that
# sha256? When not, mismatch_what says which ("size" or "sha256") and mismatch_detail
# "expected X got Y".
file_matches() {
	mismatch_what=''
	mismatch_detail=''
	fm_size=$(file_size "$1")
	if [ -n "$2" ] && [ "$fm_size" != "$2" ]; then
		mismatch_what=size
		mismatch_detail="expected $2 bytes got $fm_size"
		return 1
	fi
	fm_sha=$(sha256sum "$1" | cut -d ' ' -f 1)
	[ "$fm_sha" = "$3" ] && return 0
	mismatch_what=sha256
	mismatch_detail="expected $3 got $fm_sha"
	return 1
}

# inside DIR TARGET: is symlink TARGET, relative to archive directory DIR, still inside the
# archive root when resolved lexically? (".." counted against DIR's depth.)
inside() {
	case "$2" in /*) return 1 ;; esac
	depth=0
	oldifs=$IFS
	IFS=/
	set -f
	for seg in $1; do
		case "$seg" in '' | .) ;; *) depth=$((depth + 1)) ;; esac
	done
	result=0
	for seg in $2; do
		case "$seg" in
		'' | .) ;;
		..) depth=$((depth - 1)); [ "$depth" -lt 0 ] && result=1 ;;
		*) depth=$((depth + 1)) ;;
		esac
	done
	set +f
	IFS=$oldifs
	return "$result"
}

# overlay_problem TAR WORKDIR: echoes why TAR must not be extracted into the new root, or nothing when it is safe.
# Rules: member names relative, without ".." segments; no device nodes, FIFOs or sockets;
# symlink targets relative and inside the root (lexically from the link's directory); hardlink
# targets (archive paths) relative, without ".."; and no member below a symlink member of the
# same archive (tar would write through the link, wherever it points).
# Names come from `tar -tf`, types and link targets from `tar -tvf` on the same line number
# (busybox prints "MODE U/G SIZE DATE TIME NAME[ -> TARGET]" for symlinks and hardlinks).
overlay_problem() {
	tar -tf "$1" >"$2/overlay.names" 2>"$2/overlay.err" || { echo "not a readable tar"; return; }
	# busybox tar already strips leading "/" and everything up to a "/../" from names (and
	# hardlink targets), printing "removing leading '…' from member names" once; that still
	# means the archive was built to escape, so any complaint refuses it.
	if [ -s "$2/overlay.err" ]; then
		echo "absolute or .. member names ($(head -n 1 "$2/overlay.err"))"
		return
	fi
	tar -tvf "$1" >"$2/overlay.list" 2>/dev/null || { echo "not a readable tar"; return; }
	[ "$(wc -l <"$2/overlay.names")" = "$(wc -l <"$2/overlay.list")" ] || { echo "listing is ambiguous"; return; }
	: >"$2/overlay.links"
	while IFS= read -r name <&3 && IFS= read -r vline <&4; do
		case "$name" in
		/*) echo "absolute member $name"; return ;;
		.. | ../* | */.. | */../*) echo "member $name has a .. segment"; return ;;
		*' -> '*) echo "member name $name contains ' -> '"; return ;;
		esac
		case "$vline" in
		[cbps]*) echo "member $name is a device, FIFO or socket"; return ;;
		esac
		case "$vline" in
		*" $name -> "*)
			target=${vline##*" $name -> "}
			rest=${vline#*' -> '}
			case "$rest" in *' -> '*) echo "link $name is ambiguous"; return ;; esac
			case "$vline" in
			l*)
				case "$name" in */*) dir=${name%/*} ;; *) dir='' ;; esac
				inside "$dir" "$target" || { echo "symlink $name -> $target points outside the root"; return; }
				echo "${name%/}" >>"$2/overlay.links"
				;;
			*)
				case "$target" in
				/* | .. | ../* | */.. | */../*) echo "hardlink $name -> $target points outside the root"; return ;;
				esac
				;;
			esac
			;;
		*' -> '*) echo "member $name has an unexpected listing"; return ;;
		esac
	done 3<"$2/overlay.names" 4<"$2/overlay.list"
	# No member may sit below (or hardlink to a path below) a symlink member of this archive.
	while IFS= read -r link; do
		link=${link#./}
		while IFS= read -r name; do
			name=${name#./}
			case "$name" in "$link"/*) echo "member $name is below symlink $link"; return ;; esac
		done <"$2/overlay.names"
		while IFS= read -r vline; do
			case "$vline" in l*) ;; *' -> '"$link"/* | *' -> ./'"$link"/*) echo "a hardlink points below symlink $link"; return ;; esac
		done <"$2/overlay.list"
	done <"$2/overlay.links"
}
