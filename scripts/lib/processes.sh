# Helpers for the scripts that start control planes (scripts/testenv, scripts/cluster). Sourced, not executed.

# Long-lived children must not keep the caller's descriptors open: a caller that waits for
# EOF on a pipe (or, like Foundation's Process, on its own bookkeeping fds) would wait forever.
detach() {
  (
    for fd in $(ls /proc/$BASHPID/fd); do
      [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null || true
    done
    exec "$@" </dev/null
  ) &
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# Stops a process the script started: the pid file's pid, only while it still runs the named binary;
# SIGTERM, then SIGKILL after SECONDS (default 5). The pid file is removed.
stop_pid() {
  local file="$1" binary="$2" tenths=$((${3:-5} * 10)) pid
  [ -f "$file" ] || return 0
  pid="$(cat "$file")"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -qa "$binary" "/proc/$pid/cmdline" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 "$tenths"); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

# A kubeconfig with one cluster, one token user and its context: FILE CLUSTER SERVER CA_FILE USER TOKEN.
write_token_kubeconfig() {
  cat >"$1" <<KC
apiVersion: v1
kind: Config
clusters:
- name: $2
  cluster:
    server: $3
    certificate-authority: $4
users:
- name: $5
  user:
    token: $6
contexts:
- name: $5@$2
  context:
    cluster: $2
    user: $5
    namespace: default
current-context: $5@$2
KC
}

# Runs COMMAND (quietly) every 0.2 s until it succeeds; after SECONDS says what it was waiting for and fails.
wait_for() { # seconds description command...
  local seconds="$1" what="$2" deadline; shift 2
  deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "$(basename "$0"): timed out after ${seconds}s waiting for $what" >&2
      return 1
    fi
    sleep 0.2
  done
}
