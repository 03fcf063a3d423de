"""Machine instructions a page request costs in the web process, counted by valgrind's callgrind:
the same count on a busy or an idle machine, so two versions of a page can be compared to a few
tenths of a percent where timing them (bench_pages.py, profile_pages.py) varies by 10-20 %.

Run bench_pages.py once first (it fills cp_bench_pages), then:

    .venv/bin/python bench/page_instructions.py [--requests 50] [url ...]

Each URL runs in its own process under `valgrind --tool=callgrind --instr-atstart=no`: Django starts
and the page is requested 5 times uncounted (imports, caches, the page cache filled), then
counting is switched on (`callgrind_control -i on`) for --requests requests, in-process (Django's
test client, signed in; no HTTP server). Printed: millions of instructions a request. What
PostgreSQL and Redis do for the request is not counted: profile_pages.py shows their time.
"""

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URLS = ["/ask/", "/", "/risk/", "/history/", "/system/"]
WARM_UP = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("urls", nargs="*", help=f"default: {' '.join(DEFAULT_URLS)}")
    parser.add_argument("--requests", type=int, default=50, help="requests counted per URL (default 50)")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # the process under valgrind
    args = parser.parse_args()
    if args.child:
        serve(args.child, args.requests)
        return
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} (the counts do not depend on it)")
    for url in args.urls or DEFAULT_URLS:
        count = counted([sys.executable, __file__, "--child", url, "--requests", str(args.requests)])
        print(f"{url:<48} {count / args.requests / 1e6:8.2f} M instructions a request")


def counted(command: list[str]) -> int:
    """The instructions callgrind counted while the command had counting switched on."""
    run = subprocess.run(
        ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--callgrind-out-file=/dev/null", *command],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    found = re.search(r"Collected : (\d+)", run.stderr)
    if run.returncode != 0 or found is None:
        raise SystemExit(f"{' '.join(command)} failed under valgrind:\n{run.stdout}\n{run.stderr[-3000:]}")
    return int(found.group(1))


def serve(url: str, requests: int) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    import bench_pages  # noqa: F401  (sets the environment for the bench database)
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(get_user_model().objects.get(username="bench"))
    for _ in range(WARM_UP):
        response = client.get(url)
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}")
    switch("on")
    for _ in range(requests):
        client.get(url)
    switch("off")


def switch(state: str) -> None:
    subprocess.run(["callgrind_control", "-i", state, str(os.getpid())], capture_output=True, check=True)


if __name__ == "__main__":
    main()
