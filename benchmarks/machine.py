"""CPU the machine's processes spend, read from /proc (Linux).

On a 2-core machine shared by the broker, the database, the service and the benchmark,
latencies and rates move with whatever else runs; the CPU a unit of work costs each
process moves far less, and says what a target asks of the machine: at `rate` units a
second, work costing `c` CPU seconds a unit keeps `rate * c` cores busy.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

CORES = os.cpu_count() or 1


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def cpu_seconds(pid: int, *, with_children: bool = False) -> float:
    """User and system CPU a process has used so far; 0 once it is gone. With children:
    also what its children that have ended and been waited for used."""
    fields = _stat(pid)
    if fields is None:
        return 0.0
    # after the command: state is field 0, utime 11, stime 12, cutime 13, cstime 14
    ticks = int(fields[11]) + int(fields[12])
    if with_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def _processes() -> dict[int, tuple[str, bytes, int]]:
    """Every process: its name (a server process keeps it when it retitles its command
    line), its command line and its parent's pid."""
    found = {}
    for entry in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            name = (entry / "comm").read_text().strip()
            command = (entry / "cmdline").read_bytes()
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            found[int(entry.name)] = (name, command, parent)
    return found


def kafka_broker_pid() -> int | None:
    """The local Kafka broker's process (deploy/local/stack.sh starts one), if any."""
    return next((pid for pid, (_name, command, _parent) in _processes().items()
                 if b"\0kafka.Kafka\0" in command), None)


def postgres_cpu_seconds() -> float | None:
    """CPU used so far by the local PostgreSQL server: its postmaster, every live server
    process, and those that have ended (a connection's backend ends with it); None when
    no server runs here."""
    processes = _processes()
    servers = {pid for pid, (name, _command, _parent) in processes.items()
               if name == "postgres"}
    postmasters = [pid for pid in servers if processes[pid][2] not in servers]
    if not postmasters:
        return None
    return sum(cpu_seconds(pid, with_children=pid in postmasters) for pid in servers)
