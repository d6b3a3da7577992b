"""Looking at the machine's processes through /proc (Linux), for the tests of bin/serve."""

import os
import time
from pathlib import Path


def process_table():
    """{pid: (ppid, pgid, cmdline)} of every process that is not a zombie."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # ended while we looked
        # The command name is in parentheses and may hold spaces: the fields after it are fixed.
        state, ppid, pgid = stat.rsplit(")", 1)[1].split()[:3]
        if state != "Z":
            table[int(entry.name)] = (int(ppid), int(pgid), cmdline)
    return table


def descendants(pid):
    """{pid: (ppid, pgid, cmdline)} of every live process below `pid`."""
    table = process_table()
    found, frontier = {}, {pid}
    while frontier:
        children = {p: row for p, row in table.items() if row[0] in frontier and p not in found}
        found.update(children)
        frontier = set(children)
    return found


def survivors(pids=(), pgids=(), marker=None):
    """The live processes among `pids`, in the groups `pgids`, or whose command line holds `marker`."""
    return {
        pid: row
        for pid, row in process_table().items()
        if pid in pids or row[1] in pgids or (marker and marker in row[2])
    }


def wait_for(condition, seconds, interval=0.1):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    return condition()


def kill_all(pids):
    """Clean-up after a failed test: nothing it started may outlive it."""
    for pid in pids:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
