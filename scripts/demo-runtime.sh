#!/usr/bin/env bash
# make demo: a busybox bundle, and a container run in it by pier-runtime,
# showing what the kernel gives it — PID 1, its hostname, its own network,
# its memory limit — the seeds' "a container is just a process" made visible.
set -euo pipefail
cd "$(dirname "$0")/.."
RT="$PWD/bin/pier-runtime"
work=$(mktemp -d /tmp/pier-demo.XXXXXX)
root="$work/state"
id="demo-$$"
trap '"$RT" --root "$root" delete --force "$id" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

bold() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

bold "1. a busybox rootfs from Debian's busybox-static"
mkdir -p "$work/bundle/rootfs/bin"
cp /bin/busybox "$work/bundle/rootfs/bin/"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$work/bundle/rootfs/bin/$a"; done
mkdir -p "$work/bundle/rootfs"/{proc,sys,dev,tmp,etc}
echo 'root:x:0:0:root:/root:/bin/sh' > "$work/bundle/rootfs/etc/passwd"
echo "   $(ls "$work/bundle/rootfs/bin" | wc -l) applets in $work/bundle/rootfs"

bold "2. pier-runtime spec: a config.json with Docker's defaults"
(cd "$work/bundle" && "$RT" spec)
cat > "$work/bundle/rootfs/inside.sh" <<'INSIDE'
echo "   ps (PID 1 is our shell, nothing of the host):"; ps -o pid,args | sed "s/^/     /"
echo "   hostname: $(hostname)"
echo "   network (a new namespace: only lo):"; ip -o link | cut -d: -f2 | sed "s/^/    /"
echo "   memory limit seen from the cgroup: $(( $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes) / 1048576 )) MiB"
echo "   rootfs (pivot_root, not the host): $(ls / | tr '\n' ' ')"
sleep 2
INSIDE
node -e '
  const f = process.argv[1]; const c = JSON.parse(require("fs").readFileSync(f));
  c.process.terminal = false; c.hostname = "pier-demo";
  c.process.args = ["sh", "/inside.sh"];
  c.linux.cgroupsPath = "/" + process.argv[2];
  c.linux.resources.memory = { limit: 64 * 1024 * 1024 };
  c.linux.resources.pids = { limit: 64 };
  require("fs").writeFileSync(f, JSON.stringify(c, null, 2));
' "$work/bundle/config.json" "$id"
echo "   config: hostname=pier-demo, memory 64 MiB, pids 64, namespaces pid/net/ipc/uts/mnt"

bold "3. pier-runtime run $id"
"$RT" --root "$root" run --bundle "$work/bundle" "$id" &
runpid=$!
for _ in $(seq 50); do "$RT" --root "$root" state "$id" >/dev/null 2>&1 && break; sleep 0.05; done
sleep 0.5

bold "4. the same container seen from the host: just a process"
pid=$("$RT" --root "$root" state "$id" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).pid))')
echo "   host pid of its PID 1: $pid ($(tr '\0' ' ' < /proc/$pid/cmdline))"
for ns in pid net uts mnt ipc; do
  printf '   %-4s namespace: container %-20s host %s\n' "$ns" "$(readlink /proc/$pid/ns/$ns)" "$(readlink /proc/self/ns/$ns)"
done
echo "   cgroup: $(grep memory /proc/$pid/cgroup)"
wait "$runpid"
bold "5. done: the container exited and was deleted; nothing is left"
"$RT" --root "$root" list
