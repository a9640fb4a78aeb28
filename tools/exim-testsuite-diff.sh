#!/bin/sh
# Compare `rexim -bP` with `exim4 -bP` on the ~1000 configurations of Exim's own test suite
# (from the Exim git repository). Usage: tools/exim-testsuite-diff.sh /path/to/exim.git [TAG]
# Prints the configurations whose output differs. Differences expected from features rexim
# does not have (`.ifdef _HAVE_DKIM` and the like; every test config includes std_conf_prefix, whose
# `.ifdef _HAVE_PIPE_CONNECT` changes pipelining_connect_advertise_hosts) and from drivers it does
# not read show up too.
set -eu
repo=$1; tag=${2:-exim-4.96}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
git -C "$repo" archive "$tag" test/confs test/aux-var-src | tar -x -C "$work"
dir=$work/run; mkdir -p "$dir/aux-var"
cp "$work"/test/aux-var-src/* "$dir/aux-var/"
sed -i "s|DIR|$dir|g" "$dir/aux-var/std_conf_prefix" "$dir/aux-var/tls_conf_prefix"
rexim=${REXIM:-target/debug/rexim}
D="-DEXIM_PATH=/usr/sbin/exim4 -DDIR=$dir -DCALLER=root -DCALLER_NAME=Root -DCALLER_UID=0 -DCALLER_GID=0 -DSERVER= -DAA=1"
pass=0; fail=0
for f in "$work"/test/confs/*; do
  for what in all "routers transports authenticators"; do
    r=$($rexim -C "$f" $D -bP $what 2>/dev/null | grep -v 'bmi_\|dcc\|arc_sign' || true)
    e=$(exim4 -C "$f" $D -bP $what 2>/dev/null || true)
    if [ "$r" = "$e" ]; then pass=$((pass+1)); else fail=$((fail+1)); echo "differs: $(basename "$f") -bP $what"; fi
  done
done
echo "same: $pass  different: $fail"
