"""The bench-only venv holding the peers (vectorbt, backtesting.py), apart from the project's.

The peers are not project dependencies: they go into `bench/.venv-peers`, never into the main
venv, so the hashed lock files stay as they are. The venv gets the project's embedded lock first
(`--require-hashes`: the same Django, numpy and pandas as the main venv, so CoinPilot runs in the
same process as the peers), then the peers without hashes, constrained to the lock's pins so pip
cannot move a project package.
"""

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / "bench" / ".venv-peers"
LOCK = ROOT / "requirements-embedded.lock"  # what settings_test needs (SQLite + fakeredis)
PEERS = ("vectorbt==1.2.0", "backtesting==0.6.6")  # the versions measured; override with --peers
STAMP = VENV / "peers-installed.txt"  # written last: a half-built venv is rebuilt; the peers, the lock's hash
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)", re.M)


def python() -> Path:
    return VENV / "bin" / "python"


def in_peers_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


def lock_pins() -> str:
    """The lock's `name==version` lines: constraints for the peers' install."""
    return "".join(f"{name}=={version}\n" for name, version in PIN.findall(LOCK.read_text()))


def ensure(peers: tuple[str, ...] = PEERS, rebuild: bool = False) -> Path:
    """Create and fill the venv on first use (or when the wanted peers changed); its python."""
    lock = hashlib.sha256(LOCK.read_bytes()).hexdigest()  # a new lock: a new venv
    wanted = "".join(f"{line}\n" for line in (*peers, f"lock sha256 {lock}"))
    if not rebuild and STAMP.exists() and STAMP.read_text() == wanted:
        return python()
    base = getattr(sys, "_base_executable", sys.executable)
    print(f"setting up {VENV.relative_to(ROOT)} (once; a few minutes)", flush=True)
    subprocess.run([base, "-m", "venv", "--clear", str(VENV)], check=True)
    pip = [str(python()), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--require-hashes", "-r", str(LOCK)], check=True)
    constraints = VENV / "lock-constraints.txt"
    constraints.write_text(lock_pins())
    subprocess.run([*pip, "-c", str(constraints), *peers], check=True)
    STAMP.write_text(wanted)
    return python()


def reexec(peers: tuple[str, ...], rebuild: bool) -> None:
    """Run this same command again with the peers venv's python (does not return)."""
    exe = str(ensure(peers, rebuild))
    argv = [a for a in sys.argv if a != "--rebuild-venv"]
    os.execv(exe, [exe, *argv])  # noqa: S606 (our own venv's python, argv as given)
