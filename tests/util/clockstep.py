#!/usr/bin/env python3
"""`twamp-client run` with its wall clock stepped (tests/clock.sh, issue 14 s.1).

usage: clockstep.py BIN LIBFAKETIME TMPDIR CTLPORT

The daemon runs under libfaketime (CLOCK_MONOTONIC real, CLOCK_REALTIME = real +
the offset in TMPDIR/offset, re-read at every call) with Schedule "* * * * *"
and one control-mode target of 50 packets at 0.1 s (a 5 s session) on the
local responder.  LossTimeout 41 s makes the scheduler's start window 0, so a
target starts right at its cycle's minute.  The fake clock starts 3 s before a
minute.  Then six steps, each placing the new wall time a few seconds before
a minute so that the test stays short:
  between cycles (after a cycle's session ended) and mid-session (2 s into a
  session), by about -1 h, +1 h and +1 day.
Checked: each next cycle starts 1.5..12 s (real) after its step and no other
cycle starts meanwhile (no hour-long stall, no burst), its probe record's
timestamp is the planned minute of the NEW wall clock, exactly the sessions
stepped mid-way carry clock_stepped (delays null, 50 sent, 0 lost), the others
do not.  Prints "ok"/"FAIL" lines; exit 0 when all passed.
"""
import json
import os
import re
import signal
import subprocess
import sys
import time

BIN, FT, TMP, CTL = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
OFS = os.path.join(TMP, "offset")
D = os.path.join(TMP, "daemon")
results = []


def verdict(good, text):
    results.append(good)
    print(("ok   " if good else "FAIL ") + text, flush=True)


def set_offset(off):
    with open(OFS + ".new", "w") as f:
        f.write("%+.3f\n" % off)
    os.rename(OFS + ".new", OFS)


def fake_now(off):
    return time.time() + off


os.makedirs(D, exist_ok=True)
json.dump({"Probe": {"Schedule": "* * * * *", "PacketCount": 50, "Interval": 0.1,
                     "LossTimeout": 41, "Workers": 1, "MaxConcurrentSessions": 10}},
          open(os.path.join(D, "global_config.json"), "w"))
json.dump({"Targets": [{"IP": "127.0.0.1", "Port": CTL, "Mode": "control", "DSCP": "0",
                        "Custom_comment": "stepped"}]},
          open(os.path.join(D, "targets_list.json"), "w"))
json.dump({"SourceName": "clock-probe"}, open(os.path.join(D, "local_config.json"), "w"))

# the fake wall clock 3 s before a minute
real = time.time()
m1 = (int(real + 3) // 60 + 1) * 60
off = m1 - 3 - real
set_offset(off)
env = dict(os.environ, FAKETIME_TIMESTAMP_FILE=OFS, FAKETIME_NO_CACHE="1",
           FAKETIME_DONT_FAKE_MONOTONIC="1", LD_PRELOAD=FT,
           ASAN_OPTIONS=":".join(filter(None, [os.environ.get("ASAN_OPTIONS"),
                                               "verify_asan_link_order=0"])))
out = open(os.path.join(TMP, "run.out"), "w")
err_path = os.path.join(TMP, "run.err")
err = open(err_path, "w")
p = subprocess.Popen([BIN, "run", "--data-dir", D], stdout=out, stderr=err, env=env)


def log_lines():
    with open(err_path) as f:
        return f.read().splitlines()


def starts():
    """real-time order of cycle starts seen so far: list of cycle numbers"""
    return [int(m.group(1)) for m in
            (re.search(r"cycle (\d+): \d+ targets?, starts spread", l) for l in log_lines()) if m]


def ends():
    return [int(m.group(1)) for m in
            (re.search(r"cycle (\d+): \d+ targets?, \d+ ok", l) for l in log_lines()) if m]


def wait_for(pred, limit):
    t0 = time.time()
    while time.time() - t0 < limit:
        if p.poll() is not None:
            return False
        if pred():
            return True
        time.sleep(0.05)
    return False


expected_wall = {1: m1}   # cycle -> the minute it must start at (fake wall time)
stepped = set()           # cycles whose session was stepped mid-way
plan = [("between", -3600), ("mid", -3600), ("between", 3600), ("mid", 3600),
        ("between", 86400), ("mid", 86400)]
ok = wait_for(lambda: 1 in starts(), 20)
verdict(ok, "run: the first cycle starts at the first minute of the fake clock")
cycle = 1
for where, delta in plan:
    if not ok:
        break
    if where == "between":
        ok = wait_for(lambda: cycle in ends(), 20)
        lead = 3      # the new wall time 3 s before a minute
    else:
        time.sleep(2)
        ok = cycle not in ends()
        lead = 6      # after the session's remaining 3 s
        stepped.add(cycle)
    if not ok:
        verdict(False, "run: cycle %d did not end (or ended too early for a mid-session step)" % cycle)
        break
    target = fake_now(off) + delta
    minute = (int(target) // 60 + 1) * 60
    if minute - target < lead:   # keep `lead` seconds before the minute
        minute += 60
    new_off = (minute - lead) - time.time()
    t_step = time.time()
    set_offset(new_off)
    off = new_off
    expected_wall[cycle + 1] = minute
    n_before = len(starts())
    ok = wait_for(lambda: cycle + 1 in starts(), 15)
    took = time.time() - t_step
    extra = len(starts()) - n_before
    verdict(ok and 1.5 <= took <= 12 and extra == 1,
            "run: clock stepped %+d s %s (cycle %d): the next cycle starts %.1f s later "
            "(planned %.0f s), %d cycle start(s) in that time (want 1)" % (delta, "mid-session" if where == "mid"
                                                         else "between cycles", cycle, took, lead,
                                                         extra))
    cycle += 1
last = cycle
ok = ok and wait_for(lambda: last in ends(), 20)
# no burst after the last step either
time.sleep(2)
n = len(starts())
p.send_signal(signal.SIGTERM)
try:
    p.wait(20)
except subprocess.TimeoutExpired:
    p.kill()
    verdict(False, "run: did not stop within 20 s of SIGTERM")
out.close()
err.close()
verdict(ok and n == last, "run: %d cycles for %d steps, none extra (saw %d)" % (last, len(plan), n))

recs = []
for line in open(os.path.join(TMP, "run.out")):
    line = line.strip()
    if line.startswith("{"):
        recs.append(json.loads(line))
probes = {r["cycle"]: r for r in recs if r.get("measurement_name") == "twamp_probe"}
targets = [r for r in recs if r.get("measurement_name") == "twamp_twping1"]
bad = []
for c in range(1, last + 1):
    pr = probes.get(c)
    if not pr or abs(pr["timestamp"] - expected_wall[c]) > 1.5:
        bad.append("cycle %d at %s, planned %d" % (c, pr and pr["timestamp"], expected_wall[c]))
complete = last == len(plan) + 1   # every step was followed by its cycle
verdict(complete and not bad and len(probes) >= last,
        "run: every cycle's record time is the planned minute of the new wall clock" +
        ("" if not bad else ": " + "; ".join(bad)))
bad = []
for c, r in enumerate(targets[:last], 1):
    st = r.get("clock_stepped")
    want = c in stepped
    delays_null = r.get("median_rtt_seconds") is None and r.get("max_latency_fwd_seconds") is None
    if st is not want or r.get("sent_pkt") != 50 or r.get("lost_pkt") != 0 or delays_null != want:
        bad.append("cycle %d: clock_stepped %s (want %s), sent %s lost %s, rtt %s" %
                   (c, st, want, r.get("sent_pkt"), r.get("lost_pkt"), r.get("median_rtt_seconds")))
verdict(complete and len(targets) >= last and not bad,
        "run: clock_stepped exactly on the %d sessions stepped mid-way (delays null, 50 sent, "
        "0 lost), not on the %d others" % (len(stepped), last - len(stepped)) +
        ("" if not bad else ": " + "; ".join(bad)))
sys.exit(0 if all(results) else 1)
