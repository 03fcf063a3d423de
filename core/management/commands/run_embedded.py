"""Run the whole system on one machine: web, worker and scheduler, with Redis embedded if needed."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

WORKER_QUEUES = ["bot", "market", "default", "notifications", "lab"]  # in priority order


class Command(BaseCommand):
    help = (
        "Start the web server, an RQ worker and the scheduler together (Ctrl-C stops all). "
        "Without REDIS_URL a fakeredis server is started on loopback for them to share."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--addr", default="127.0.0.1:8000", help="web server address")
        parser.add_argument("--redis-port", type=int, default=16379, help="embedded Redis port")

    def handle(self, *args, addr: str, redis_port: int, **options) -> None:
        env = os.environ.copy()
        env["COINPILOT_EMBEDDED"] = "1"  # the children may use the embedded stores, DEBUG or not
        if not settings.REDIS_URL:
            env["REDIS_URL"] = self._start_embedded_redis(redis_port)
        self._fresh_metrics_dir(env)
        manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]
        commands = {
            "web": [*manage, "runserver", addr, "--noreload"],
            "worker": [*manage, "rqworker", *WORKER_QUEUES, "--name", f"embedded-{os.getpid()}"],
            # The embedded Redis starts empty: compute regimes and volatility now, not at their slots.
            "scheduler": [*manage, "run_scheduler", "--warm-up", "update_regime,retrain_volatility"],
        }
        if settings.TELEGRAM_BOT_TOKEN:  # the remote-control bot (README, "Remote control")
            commands["telegram"] = [*manage, "run_telegram"]
        children = {}
        # Ctrl-C and `kill` stop everything, even when started where SIGINT is ignored (a
        # background job), in which case Python would never raise KeyboardInterrupt by itself.
        signal.signal(signal.SIGINT, _raise_keyboard_interrupt)
        signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
        try:
            for name, command in commands.items():
                # Own process group: Ctrl-C reaches us once, and we stop the children in order.
                children[name] = subprocess.Popen(command, env=env, start_new_session=True)
            self.stdout.write(
                self.style.SUCCESS(
                    f"CoinPilot is running: http://{addr}/  (Ctrl-C stops web, worker and scheduler)"
                )
            )
            self._wait(children)
        except KeyboardInterrupt:
            self.stdout.write("\nstopping ...")
        finally:
            self._stop(children)

    def _start_embedded_redis(self, port: int) -> str:
        from core.embedded_redis import serve

        try:
            serve(port)
        except OSError as exc:
            raise CommandError(f"cannot serve embedded Redis on 127.0.0.1:{port}: {exc}") from exc
        self.stdout.write(f"embedded Redis (fakeredis) on 127.0.0.1:{port}")
        return f"redis://127.0.0.1:{port}/0"

    def _fresh_metrics_dir(self, env: dict) -> None:
        # Files of processes that no longer exist would be summed into /metrics forever.
        path = Path(env["PROMETHEUS_MULTIPROC_DIR"])
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True, exist_ok=True)

    def _wait(self, children: dict) -> None:
        while True:
            for name, process in children.items():
                if process.poll() is not None:
                    raise CommandError(f"{name} exited with code {process.returncode}; stopping the rest")
            time.sleep(0.5)

    def _stop(self, children: dict) -> None:
        for process in children.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)  # rq: warm shutdown after the current job
        deadline = time.monotonic() + 15
        for name, process in children.items():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.stdout.write(f"{name} did not stop in time; killing it")
                process.kill()
                process.wait()
        self.stdout.write("stopped")


def _raise_keyboard_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt
