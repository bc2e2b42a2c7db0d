# Shared helpers of the format shell tests (sourced), after the preamble
# of all the shell tests (../lib.sh: tmpdir, fail).
# Usage in a test: . lib.sh; MKFS=$1 DB=$2; tmpdir NAME /tmp
# shellcheck shell=bash

. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

# field IMG CMD... KEY: the value of "KEY = value" in kvfs-db output
field() {
	local img=$1 key
	shift
	key=${!#}
	set -- "${@:1:$(($# - 1))}"
	"$DB" "$img" "$@" | awk -F' = ' -v k="$key" '$1 == k { print $2 }'
}

# load ARRAY FILE: the "KEY = value" lines of kvfs-db output in FILE into
# the associative array ARRAY, read by the shell (no process per field)
load() {
	local -n _kv=$1
	local _l
	_kv=()
	while IFS= read -r _l; do
		[[ $_l == *" = "* ]] && _kv[${_l%% = *}]=${_l#* = }
	done <"$2"
}

expect_eq() {
	[ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"
}

hash() {
	if [ -d "$1" ]; then
		stat -c '%F %i %a' "$1"
	elif [ -e "$1" ]; then
		{ sha256sum <"$1"; stat -c %s "$1"; } | tr '\n' ' '
	else
		echo absent
	fi
}

# flip IMG BYTE_OFFSET...: xor each byte with 0x5a, in one process (the
# corrupt tests flip ~500 bytes each, and a process start is what they
# spend: moving a flip from one byte to the next is one call)
flip() {
	perl -e 'open(my $f, "+<", shift) or die "open: $!\n";
		for my $o (@ARGV) {
			sysseek($f, $o, 0) or die "seek: $!\n";
			sysread($f, my $b, 1) == 1 or die "read at $o\n";
			sysseek($f, $o, 0);
			syswrite($f, chr(ord($b) ^ 0x5a)) == 1 or die "write: $!\n";
		}' "$@" || fail "flip $*"
}
