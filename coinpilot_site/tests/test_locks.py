"""The lock files drive every install: they must hold what the human-edited lists ask for."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LISTS = ["requirements.txt", "requirements-embedded.txt", "requirements-dev.txt"]
PIN = re.compile(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^\s;#]+)")


def pins(path: Path) -> dict[str, str]:
    """name -> version of every `name==version` line (following -r includes)."""
    found = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line.startswith("-r "):
            found |= pins(path.parent / line.split()[1])
        elif match := PIN.match(line):
            found[match.group(1).lower().replace("_", "-")] = match.group(2)
    return found


@pytest.mark.parametrize("listed", LISTS)
def test_each_lock_pins_what_its_list_asks_for_with_hashes(listed):
    lock = ROOT / listed.replace(".txt", ".lock")
    locked = pins(lock)
    wanted = pins(ROOT / listed)
    stale = {
        name: (version, locked.get(name)) for name, version in wanted.items() if locked.get(name) != version
    }
    assert not stale, f"run `python3 dev.py lock`: {lock.name} differs from {listed}: {stale}"
    text = lock.read_text()
    # every pinned package carries at least one hash (pip refuses the lock otherwise, but say so here)
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text)
    unhashed = [b.split("==")[0] for b in blocks if "==" in b and "--hash=sha256:" not in b]
    assert not unhashed, f"packages without a hash in {lock.name}: {unhashed}"


def test_every_install_goes_through_a_lock():
    dev = (ROOT / "dev.py").read_text()
    assert (
        "--require-hashes" in dev
        and '"requirements-dev.lock"' in dev
        and '"requirements-embedded.lock"' in dev
    )
    assert "--require-hashes -r requirements.lock" in (ROOT / "Dockerfile").read_text()
