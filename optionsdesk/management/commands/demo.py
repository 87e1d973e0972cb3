"""Run the whole system offline: migrate, admin user, schedule sync, then every process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand, CommandParser

from optionsdesk.processes import command


class Command(BaseCommand):
    """`manage.py demo`: web + agent and research workers + beat (+ simulated exchange)."""

    help = "Start optionsdesk locally: SQLite, filesystem broker, simulated exchange."

    def add_arguments(self, parser: CommandParser) -> None:
        """--port for the web server, --sim-port for the simulated exchange."""
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--sim-port", type=int, default=8082)

    def handle(self, *args: Any, **options: Any) -> None:
        """Prepare the database, then supervise the processes until interrupted."""
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("database migrated")
        call_command("ensure_admin", stdout=self.stdout)
        call_command("sync_periodic_tasks", stdout=self.stdout)
        bind = f"{options['host']}:{options['port']}"
        names = ["web", "worker-agent", "worker-research", "beat"]
        if "run_exchange_sim" in get_commands() and settings.DERIBIT_ENV == "sim":
            names.insert(0, "sim")
        children = self._start(names, bind=bind, sim_port=str(options["sim_port"]))
        self.stdout.write(self.style.SUCCESS(f"\noptionsdesk is running at http://{bind}/"))
        self.stdout.write("log in as admin; press Ctrl-C to stop every process\n")
        self._supervise(children)

    def _start(self, names: list[str], **values: str) -> dict[str, subprocess.Popen[bytes]]:
        bin_dir = Path(sys.executable).parent
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        if "sim" in names:
            env.setdefault("DERIBIT_SIM_URL", f"http://127.0.0.1:{values['sim_port']}/api/v2")
        children: dict[str, subprocess.Popen[bytes]] = {}
        for name in names:
            argv = command(name, **values)
            argv[0] = sys.executable if argv[0] == "python" else str(bin_dir / argv[0])
            children[name] = subprocess.Popen(argv, env=env, start_new_session=True)
            self.stdout.write(f"started {name} (pid {children[name].pid}): {' '.join(argv[1:])}")
            if name == "sim":
                time.sleep(1.5)  # let the exchange bind before the web and worker ask it
        return children

    def _supervise(self, children: dict[str, subprocess.Popen[bytes]]) -> None:
        stopping = False

        def stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        while not stopping:
            dead = [name for name, proc in children.items() if proc.poll() is not None]
            if dead:
                self.stderr.write(f"{', '.join(dead)} exited; stopping the rest")
                break
            time.sleep(0.5)
        self._stop(children)

    def _stop(self, children: dict[str, subprocess.Popen[bytes]]) -> None:
        for proc in children.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for name, proc in children.items():
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            self.stdout.write(f"stopped {name}")
