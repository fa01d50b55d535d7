#!/usr/bin/env bash
# make demo: the seeds' walkthrough, end to end, with pier.
#   a base image with no internet (busybox-static) → `pier build` of the seeds' hello-world
#   app (one layer per instruction) → `pier run -d -p 4000:80` → it answers on 127.0.0.1 →
#   `pier exec` joins its namespaces → `pier explain` draws what the container is made of.
# It runs a private pierd (its own state, socket and bridge) and removes everything after.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/pier-demo.XXXXXX)
sock="$work/pier.sock"
prefix="pd$(printf '%04x' $((RANDOM % 65536)))"
PIER=("$PWD/bin/pier" -H "unix://$sock")
pierd_pid=""

cleanup() {
  set +e
  if [ -n "$pierd_pid" ]; then
    "${PIER[@]}" rm -f hello >/dev/null 2>&1
    kill "$pierd_pid" 2>/dev/null
    wait "$pierd_pid" 2>/dev/null
  fi
  [ -f "$work/run/lxcfs.pid" ] && kill "$(cat "$work/run/lxcfs.pid")" 2>/dev/null && sleep 0.2
  grep " $work/" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l 2>/dev/null
  # The private bridge network and the rules made for it.
  for l in $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep "^$prefix"); do ip link del "$l" 2>/dev/null; done
  iptables-save | grep -E "pier:$prefix|$prefix" | grep '^-A' | sed 's/^-A /-D /' | while read -r rule; do eval "iptables -w $rule" 2>/dev/null; done
  for t in nat filter; do
    iptables-save -t $t | grep '^-A' | grep -E "pier:$prefix" | sed 's/^-A /-D /' | while read -r rule; do eval "iptables -w -t $t $rule" 2>/dev/null; done
  done
  rm -rf "$work"
}
trap cleanup EXIT

bold() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
say() { printf '\033[2m$ %s\033[0m\n' "$*"; }

port=4000
if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
  port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
  echo "(port 4000 is taken on this machine: using $port)"
fi

bold "0. pierd: the engine, serving the Docker Engine API on $sock"
"$PWD/bin/pierd" -H "unix://$sock" --root "$work/root" --exec-root "$work/run" \
  --bridge-prefix "$prefix" --lxcfs-dir "$work/lxcfs" 2>"$work/pierd.log" &
pierd_pid=$!
for _ in $(seq 200); do curl -sf --unix-socket "$sock" http://pier/_ping >/dev/null 2>&1 && break; sleep 0.05; done
"${PIER[@]}" version --format '   pierd {{.Server.Version}}, API {{.Server.APIVersion}}'

bold "1. a base image with no internet: busybox, from Debian's busybox-static"
say "pier image bootstrap busybox"
"${PIER[@]}" image bootstrap busybox

bold "2. the seeds' hello-world app (examples/hello, on busybox): one layer per instruction"
say "cat examples/hello/Dockerfile"
grep -v '^#' examples/hello/Dockerfile | sed 's/^/   /'
say "pier build -t helloworld examples/hello"
"${PIER[@]}" build -t helloworld examples/hello
say "pier history helloworld   (ENV, EXPOSE, CMD: empty layers, as the seeds say)"
"${PIER[@]}" history helloworld

bold "3. run it: pier run -d -p $port:80 --name hello helloworld"
"${PIER[@]}" run -d -p "$port:80" --name hello helloworld >/dev/null
"${PIER[@]}" ps
say "curl http://127.0.0.1:$port"
for _ in $(seq 50); do out=$(curl -s "http://127.0.0.1:$port" || true); [ -n "$out" ] && break; sleep 0.1; done
echo "   $out"

bold "4. exec: a new process in the same namespaces (setns), seen from the host"
pid=$("${PIER[@]}" inspect --format '{{ .State.Pid }}' hello)
say "pier inspect --format '{{ .State.Pid }}' hello   → $pid"
for ns in pid net mnt uts ipc; do
  inside=$("${PIER[@]}" exec hello readlink /proc/self/ns/$ns)
  printf '   %-4s exec: %-18s container PID 1: %-18s host: %s\n' "$ns" "$inside" "$(readlink /proc/$pid/ns/$ns)" "$(readlink /proc/self/ns/$ns)"
done
say "pier exec hello ps"
"${PIER[@]}" exec hello ps | sed 's/^/   /'

bold "5. pier explain hello: what the container is made of"
"${PIER[@]}" explain hello

bold "6. done: the container, the network and pierd's state are removed"
