#!/usr/bin/env python3
"""CoinPilot in one command, on a machine with only Python 3.11+ (no PostgreSQL, Redis or internet
beyond the package index).

    python3 dev.py          set up .venv, install, migrate, create an admin login, and run the web
                            server, a worker and the scheduler (SQLite + embedded Redis + the
                            simulated market). Ctrl-C stops everything.
    python3 dev.py test     set up .venv with the test tools and run the whole test suite
                            (extra arguments go to pytest). With DATABASE_URL / REDIS_URL set, the
                            suite runs against those real servers.
    python3 dev.py messages after marking new strings: collect them into locale/ko/LC_MESSAGES/*.po
                            (makemessages), for a translator to fill in; `test` then says what is
                            missing or fuzzy.
    python3 dev.py lock     regenerate the hashed lock files (requirements*.lock) after editing
                            a requirements*.txt list (pip-compile, from the test tools).

Every install is from a lock file with a hash for each package, direct and transitive: the same
bytes on every machine, and a changed or substituted package refuses to install.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"


TEST_PROCESSES = ["-n", "2", "--dist", "load"]  # `python3 dev.py test -n 0` runs in this one process
LOCKS = ("requirements", "requirements-embedded", "requirements-dev")  # each NAME.txt -> NAME.lock


def ensure_venv(lock: str) -> None:
    if not PYTHON.exists():
        print(f"creating {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    path = ROOT / lock
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    marker = VENV / f".installed-{lock}"
    if marker.exists() and marker.read_text() == digest:
        return
    print(f"installing {lock} ...", flush=True)
    subprocess.run([PYTHON, "-m", "pip", "install", "-q", "--require-hashes", "-r", path], check=True)
    marker.write_text(digest)


def lock() -> int:
    ensure_venv("requirements-dev.lock")
    compile_ = [VENV / "bin" / "pip-compile", "-q", "--generate-hashes", "--allow-unsafe", "--strip-extras"]
    for name in LOCKS:
        print(f"locking {name}.txt -> {name}.lock", flush=True)
        subprocess.run([*compile_, "--no-emit-index-url", "-o", f"{name}.lock", f"{name}.txt"], check=True)
    return 0


def manage(*args: str, env: dict | None = None, root: Path = ROOT) -> None:
    subprocess.run([PYTHON, root / "manage.py", *args], check=True, env=env, cwd=root)


# What makemessages/compilemessages must not walk: installed packages (their own catalogs), built files.
I18N_IGNORE = (".venv", "staticfiles", "var", "node_modules", "docs", "bench")
I18N_DOMAINS = ("django", "djangojs")  # Python and templates; static/js


def compile_messages(env: dict | None = None) -> None:
    """locale/*.po -> .mo (only those changed since the last compile)."""
    if not shutil.which("msgfmt"):
        sys.exit(
            "CoinPilot's Korean pages need GNU gettext's msgfmt: install it (Debian: apt install gettext)."
        )
    manage("compilemessages", *(f"--ignore={name}" for name in I18N_IGNORE), "--verbosity=0", env=env)


def make_messages(root: Path = ROOT, env: dict | None = None) -> None:
    """Every marked string of the code under `root` into root/locale/ko/LC_MESSAGES/*.po (makemessages)."""
    env = {**(env or os.environ), "DEBUG": "1", "COINPILOT_EMBEDDED": "1"}
    ignore = [f"--ignore={name}/*" for name in I18N_IGNORE]
    for domain in I18N_DOMAINS:
        manage(
            "makemessages",
            "--locale=ko",
            f"--domain={domain}",
            "--no-obsolete",
            "--add-location=file",
            "--verbosity=0",
            *ignore,
            env=env,
            root=root,
        )


def messages() -> int:
    ensure_venv("requirements-dev.lock")
    make_messages()
    print("locale/ko/LC_MESSAGES/*.po updated: translate the new entries (empty msgstr, or marked fuzzy)")
    return 0


def up() -> None:
    ensure_venv("requirements-embedded.lock")
    env = dict(os.environ)
    env.setdefault("DEBUG", "1")  # the embedded default is a local demo: dev secret key, no TLS
    env.setdefault("COINPILOT_EMBEDDED", "1")  # SQLite + fakeredis unless DATABASE_URL / REDIS_URL
    env.setdefault("COINPILOT_LANGUAGE", "ko")  # the demo speaks Korean to a browser that asks for neither
    compile_messages(env)
    manage("migrate", "--no-input", env=env)
    # 14 days of simulated candles so the regime is known at once (a few seconds the first
    # time; later starts only add the minutes since the last one). Skipped for a real source.
    manage("backfill", "--source", "sim", "--days", "14", "--if-configured", env=env)
    # First start only: the last two days go through the real bot cycle on a simulated clock,
    # so positions, trades and risk events exist at once (booked as "replay" in the paper account).
    manage("replay_history", "--days", "2", "--if-empty", env=env)
    manage("ensure_admin", env=env)
    os.execve(PYTHON, [str(PYTHON), str(ROOT / "manage.py"), "run_embedded"], env)


def test(args: list[str]) -> int:
    ensure_venv("requirements-dev.lock")  # conftest compiles the translations (compile_messages)
    # Two processes (pytest-xdist): most tests wait on real processes, servers and browsers, so two
    # share the 2 cores well (the suite in about half the time). `load` hands out tests in
    # pytest-django's order, so each process still runs the tests that flush the database (browser,
    # worker processes) after those that rely on the migrations' seeded rows.
    parallel = [] if any(a.startswith(("-n", "--numprocesses")) for a in args) else TEST_PROCESSES
    return subprocess.run([PYTHON, "-m", "pytest", *parallel, *args], cwd=ROOT).returncode


if __name__ == "__main__":
    os.chdir(ROOT)
    if sys.argv[1:2] == ["test"]:
        sys.exit(test(sys.argv[2:]))
    elif sys.argv[1:] == ["lock"]:
        sys.exit(lock())
    elif sys.argv[1:] == ["messages"]:
        sys.exit(messages())
    elif sys.argv[1:] in ([], ["up"]):
        up()
    else:
        sys.exit(__doc__)
