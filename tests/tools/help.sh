#!/bin/bash
# Every tool answers --help and -h with its usage on stdout and exit 0, and
# an unknown option with a non-zero exit and the usage on stderr.
set -u
fails=0
for tool in "$@"; do
	name=$(basename "$tool")
	for opt in --help -h; do
		out=$("$tool" $opt 2>/dev/null)
		rc=$?
		if [ $rc -ne 0 ] || ! grep -qi 'usage' <<<"$out"; then
			echo "FAIL: $name $opt: exit $rc, stdout: ${out:0:80}"
			fails=$((fails + 1))
		fi
	done
	err=$("$tool" --no-such-option 2>&1 >/dev/null)
	rc=$?
	if [ $rc -eq 0 ] || [ -z "$err" ]; then
		echo "FAIL: $name --no-such-option: exit $rc, stderr: ${err:0:80}"
		fails=$((fails + 1))
	fi
done
[ $fails -eq 0 ] && echo "help: $# tools ok"
exit $((fails != 0))
