"""Other work on the machine during a measurement, and what the machine did meanwhile.

`burning(n)` keeps `n` processes spinning on the CPU (plain Python loops at normal priority, as
another service or a backtest would), so a figure "with both cores busy" is measured, not waited
for. `MachineSample` reads the whole machine's CPU use and a process tree's CPU time from /proc
(Linux), to print beside the wall time.
"""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

BURN = "while True:\n    pass\n"


@contextmanager
def burning(processes: int) -> Iterator[None]:
    """`processes` CPU-bound processes running for the duration of the block (0: none)."""
    burners = [subprocess.Popen([sys.executable, "-c", BURN]) for _ in range(processes)]
    try:
        time.sleep(1 if burners else 0)  # let them reach the run queue before measuring
        yield
    finally:
        for burner in burners:
            burner.kill()
        for burner in burners:
            burner.wait()


def _machine_jiffies() -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs since boot, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def tree_cpu_seconds(root_pid: int) -> float:
    """User + system CPU seconds of a process and its direct children (e.g. gunicorn and its
    workers); 0 for a process that cannot be read."""
    pids = [root_pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _stat(int(entry.name))[:1] == [str(root_pid)]:
            pids.append(int(entry.name))
    return sum(map(cpu_seconds, pids))


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process; 0 for a process that cannot be read."""
    fields = _stat(pid)
    return (int(fields[10]) + int(fields[11])) / os.sysconf("SC_CLK_TCK") if len(fields) > 11 else 0.0


def _stat(pid: int) -> list[str]:
    """Fields of /proc/<pid>/stat after the command name, from the parent pid on ([] if gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1:]
    except (OSError, IndexError):
        return []


@dataclass
class MachineSample:
    """CPU use of the machine and of one process tree between `start()` and `stop()`."""

    root_pid: int
    wall: float = 0.0
    machine_busy: float = 0.0  # share of all CPUs' time spent working, 0..1
    tree_cpu: float = 0.0  # CPU seconds of the process tree
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def start(self) -> "MachineSample":
        self._wall, self._jiffies, self._cpu = time.perf_counter(), _machine_jiffies(), self._tree()
        return self

    def stop(self) -> "MachineSample":
        busy, total = _machine_jiffies()
        self.wall = time.perf_counter() - self._wall
        self.machine_busy = (busy - self._jiffies[0]) / max(1, total - self._jiffies[1])
        self.tree_cpu = self._tree() - self._cpu
        self.load = os.getloadavg()
        return self

    def _tree(self) -> float:
        return tree_cpu_seconds(self.root_pid)

    def summary(self, label: str) -> str:
        return (
            f"{label}: wall {self.wall:.1f} s, server CPU {self.tree_cpu:.1f} s, machine CPU busy "
            f"{self.machine_busy * 100:.0f} % of {os.cpu_count()} cores, load average "
            f"{' '.join(f'{x:.2f}' for x in self.load)}"
        )
