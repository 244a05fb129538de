#!/bin/sh
# wa-healthz - a service container's healthcheck: GET /healthz from the service (PID 1).
#   wa-healthz PORT   asks 127.0.0.1:PORT
#   wa-healthz        asks every port PID 1 listens on (found in /proc) until one answers: for a
#                     *_LISTEN with port 0, e.g. two instances of one service on the host network
set -eu
ask() { curl -fsS -o /dev/null --max-time 4 "http://127.0.0.1:$1/healthz"; }
if [ -n "${1:-}" ]; then
    ask "$1"
    exit
fi
# PID 1's sockets by inode, then their LISTEN (0A) lines in /proc/net/tcp: the local address is
# field 2 (hex IP:PORT), the inode field 10.
inodes=$(for fd in /proc/1/fd/*; do readlink "$fd" 2>/dev/null || true; done |
    sed -n 's/^socket:\[\([0-9]*\)\]$/\1/p' | tr '\n' ' ')
ports=$(awk -v inodes=" $inodes" 'NR > 1 && $4 == "0A" && index(inodes, " " $10 " ") {
    split($2, a, ":"); print a[2] }' /proc/net/tcp)
for hex in $ports; do
    ask "$((0x$hex))" 2>/dev/null && exit 0
done
echo "wa-healthz: no listening port of PID 1 answered /healthz (ports: ${ports:-none})" >&2
exit 1
