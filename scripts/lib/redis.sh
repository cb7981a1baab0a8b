# Sourced by the benchmark scripts: starts a private redis-server on a free loopback port
# (appendonly yes, appendfsync everysec, no RDB snapshots, as in BENCHMARKS.md) and stops it
# when the script exits.
#
#   start_redis DIR    sets REDIS_PORT and REDIS_PID; the data and the log go to DIR.
#   stop_redis         stops it (also run at exit).

REDIS_PID=""
REDIS_PORT=""

stop_redis() {
  if [ -n "$REDIS_PID" ] && kill -0 "$REDIS_PID" 2>/dev/null; then
    kill "$REDIS_PID" 2>/dev/null || true
    wait "$REDIS_PID" 2>/dev/null || true
  fi
  REDIS_PID=""
}

start_redis() {
  local dir="$1" candidate
  for tool in redis-server redis-cli; do
    command -v "$tool" >/dev/null || { echo "$tool not found" >&2; return 1; }
  done
  # A free loopback port: try random ports until a redis-server stays up on one.
  for _ in $(seq 1 20); do
    candidate=$((20000 + RANDOM % 20000))
    redis-server --port "$candidate" --bind 127.0.0.1 --dir "$dir" --appendonly yes \
      --appendfsync everysec --save "" --logfile "$dir/redis.log" &
    REDIS_PID=$!
    for _ in $(seq 1 50); do
      if redis-cli -p "$candidate" ping >/dev/null 2>&1; then
        REDIS_PORT=$candidate
        return 0
      fi
      kill -0 "$REDIS_PID" 2>/dev/null || break
      sleep 0.1
    done
    stop_redis
  done
  echo "could not start redis-server" >&2
  return 1
}
