#!/bin/sh
# Functions of the bootfleet initramfs that decide what to trust: form encoding, the boot info
# parser and checks, and the node overlay check. Sourced by /init (from /etc/bootfleet/lib.sh),
# and by the unit tests, which run them under the host's busybox sh. POSIX sh, no eval.

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

# parse_bootinfo FILE: parses the boot info line by line into bi_* variables. Values are only
# ever assigned, never evaluated; bootinfo_problem checks each against what it may contain.
# Unknown keys and lines without "=" are ignored; a trailing CR is dropped.
parse_bootinfo() {
	bi_hostname=''
	bi_image=''
	bi_version=''
	bi_url=''
	bi_sha=''
	bi_size=''
	bi_overlay=''
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
		init) [ -n "$value" ] && bi_init=$value ;;
		esac
	done <"$1"
}

# Echoes why the parsed boot info cannot be used, or nothing when it is fine.
bootinfo_problem() {
	case "$bi_url" in
	'') echo "no squashfs_url"; return ;;
	http://?* | https://?* | /?*) ;;
	*) echo "squashfs_url is not an http(s) URL"; return ;;
	esac
	case "$bi_url$bi_overlay" in *[[:space:][:cntrl:]\"\'\`\\]*) echo "a URL has spaces, quotes or control characters"; return ;; esac
	case "$bi_overlay" in '' | http://?* | https://?* | /?*) ;; *) echo "overlay_url is not an http(s) URL"; return ;; esac
	case "$bi_sha" in *[!0-9a-f]*) echo "squashfs_sha256 is not hex"; return ;; esac
	[ "${#bi_sha}" = 64 ] || { echo "squashfs_sha256 is not 64 hex digits"; return; }
	case "$bi_size" in '') ;; *[!0-9]*) echo "squashfs_size is not a number"; return ;; esac
	case "$bi_hostname" in *[!A-Za-z0-9.-]*) echo "hostname has characters other than letters, digits, '.' and '-'"; return ;; esac
	case "$bi_init" in /*) ;; *) echo "init is not an absolute path"; return ;; esac
	case "$bi_init" in *[!A-Za-z0-9._/-]*) echo "init has unexpected characters"; return ;; esac
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
