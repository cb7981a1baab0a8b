"""Prints the tables of scripts/bench-peers from the JSON reports it wrote.

Usage: peer-tables.py OUT SECTIONS TARGETS IDLE_N FANOUT_VIEWERS SWEEP_VIEWERS SWEEP_RATES P99_MS FLASH_BUYERS
"""

import json
import os
import sys

out, sections, targets, idle_n, fanout_viewers, sweep_viewers, sweep_rates, p99_limit, flash_buyers = sys.argv[1:10]
sections, targets = sections.split(), targets.split()
sweep_rates = [r for r in sweep_rates.split()]
p99_limit = float(p99_limit)


def load(label):
    try:
        with open(os.path.join(out, label + ".json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def ratio(a, b):
    return f"{a / b:.2f}x" if a and b else "-"


def lat(r, key, field):
    return ((r or {}).get(key) or {}).get(field)


def num(v, fmt):
    return format(v, fmt) if v is not None else "-"


def ok(r):
    return "yes" if r and r.get("ok") else "NO"


# The peers ours is compared with, in each table: the first target of each kind present.
def peers_of(ts):
    ws = next((t for t in ts if t.startswith("ws")), None)
    sio = next((t for t in ts if t.startswith("socketio")), None)
    return ws, sio


if "idle" in sections:
    print()
    print(f"idle, {idle_n} connections")
    print(f"{'target':<15} {'ok':<4} {'KiB/conn':>9} {'conns/GiB':>11} {'vs ws':>7}")
    per_gib = {}
    reports = {t: load(f"idle-{idle_n}-{t}") for t in targets}
    for t, r in reports.items():
        b = r and r.get("server_rss_bytes_per_connection")
        per_gib[t] = (2**30 / b) if b else None
    ws, _ = peers_of(targets)
    for t, r in reports.items():
        if not r:
            print(f"{t:<15} no report")
            continue
        b = r.get("server_rss_bytes_per_connection")
        print(f"{t:<15} {ok(r):<4} {num(b and b / 1024, '9.2f'):>9} {num(per_gib[t], '11,.0f'):>11} "
              f"{ratio(per_gib[t], per_gib.get(ws)):>7}")


def fanout_table(title, reports):
    ws, sio = peers_of(list(reports))
    print()
    print(title)
    print(f"{'target':<15} {'ok':<4} {'rate':>5} {'deliv/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9} "
          f"{'CPU us/del':>10} {'d/s vs ws':>9} {'vs sio':>7} {'p99 vs ws':>9} {'vs sio':>7}")
    for t, r in reports.items():
        if not r:
            print(f"{t:<15} no passing run")
            continue
        d = r.get("deliveries_per_sec")
        p99 = lat(r, "delivery_latency", "p99_ms")
        dw = reports.get(ws) and reports[ws].get("deliveries_per_sec")
        ds = reports.get(sio) and reports[sio].get("deliveries_per_sec")
        pw = lat(reports.get(ws), "delivery_latency", "p99_ms")
        ps = lat(reports.get(sio), "delivery_latency", "p99_ms")
        print(f"{t:<15} {ok(r):<4} {num((r.get('publisher') or {}).get('rate_per_sec'), '5g'):>5} {num(d, '9,.0f'):>9} "
              f"{num(lat(r, 'delivery_latency', 'p50_ms'), '9.1f'):>9} {num(p99, '9.1f'):>9} "
              f"{num(lat(r, 'delivery_latency', 'max_ms'), '9.1f'):>9} {num(r.get('server_cpu_us_per_delivery'), '10.2f'):>10} "
              f"{ratio(d, dw):>9} {ratio(d, ds):>7} {ratio(pw, p99):>9} {ratio(ps, p99):>7}")


if "fanout" in sections:
    for v in fanout_viewers.split():
        fanout_table(f"fanout, {v} viewers", {t: load(f"fanout-{v}-{t}") for t in targets})

if "sweep" in sections:
    best = {}
    for t in targets:
        best[t] = None
        for rate in sweep_rates:
            r = load(f"sweep-{sweep_viewers}-{t}-{rate}")
            if not r or not r.get("ok") or (lat(r, "delivery_latency", "p99_ms") or 1e18) > p99_limit:
                break
            best[t] = r
    fanout_table(f"sweep, {sweep_viewers} viewers: the highest rate of {' '.join(sweep_rates)} msg/s "
                 f"with every delivery made and p99 <= {p99_limit:g} ms", best)
    print("all sweep runs (rate: deliveries/s, p99 ms, ok):")
    for t in targets:
        runs = []
        for rate in sweep_rates:
            r = load(f"sweep-{sweep_viewers}-{t}-{rate}")
            if r:
                runs.append(f"{rate}: {num(r.get('deliveries_per_sec'), ',.0f')}, "
                            f"{num(lat(r, 'delivery_latency', 'p99_ms'), '.1f')}, {ok(r)}")
        print(f"  {t:<15} " + "; ".join(runs))

if "flash" in sections:
    flash = ["ours-redis", "ws-redis", "socketio-redis"]
    reports = {t: load(f"flash-{flash_buyers}-{t}") for t in flash}
    print()
    print(f"flash-sale on Redis, {flash_buyers} buyers")
    print(f"{'target':<15} {'ok':<4} {'replies/s':>9} {'placed/s':>9} {'placed':>7} {'all p50':>8} {'all p99':>8} "
          f"{'placed p99':>10} {'placed/s vs ws':>14} {'vs sio':>7} {'p99 vs ws':>9} {'vs sio':>7}")
    for t, r in reports.items():
        if not r:
            print(f"{t:<15} no report")
            continue
        pl = r.get("placed_per_sec")
        p99 = lat(r, "ack_latency", "p99_ms")
        w, s = reports.get("ws-redis"), reports.get("socketio-redis")
        print(f"{t:<15} {ok(r):<4} {num(r.get('replies_per_sec'), '9,.0f'):>9} {num(pl, '9,.0f'):>9} "
              f"{r.get('placed', 0):>7} {num(lat(r, 'ack_latency', 'p50_ms'), '8.1f'):>8} {num(p99, '8.1f'):>8} "
              f"{num(lat(r, 'placed_latency', 'p99_ms'), '10.1f'):>10} "
              f"{ratio(pl, w and w.get('placed_per_sec')):>14} {ratio(pl, s and s.get('placed_per_sec')):>7} "
              f"{ratio(lat(w, 'ack_latency', 'p99_ms'), p99):>9} {ratio(lat(s, 'ack_latency', 'p99_ms'), p99):>7}")
        for c in r.get("checks", []):
            if not c.get("ok"):
                print(f"{'':<15} check FAILED: {c['name']} ({c['detail']})")

print()
print("x vs peer: deliveries/s, conns/GiB and placed/s are ours / peer's (higher is better); "
      "p99 vs peer is the peer's p99 / ours (higher is better).")
