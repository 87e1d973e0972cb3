"""The long-running processes of optionsdesk, declared once.

`manage.py demo` starts them, the Makefile's `web`/`worker-agent`/`worker-research`/`beat`/`sim`
targets run the same
command lines and docker-compose.yml's services use them too; a test keeps the three in step.
"""

from __future__ import annotations

PROCESSES: dict[str, list[str]] = {
    "sim": [
        "python",
        "manage.py",
        "run_exchange_sim",
        "--port",
        "{sim_port}",
        "--seed",
        "42",
        "--speed",
        "60",
    ],
    "web": [
        "gunicorn",
        "optionsdesk.wsgi",
        "--bind",
        "{bind}",
        "--workers",
        "2",
        # Two threads a worker: a request waiting on the database or the network does not hold
        # up the next one (docs/benchmarks.md, "API and dashboard under load").
        "--worker-class",
        "gthread",
        "--threads",
        "2",
        "--access-logfile",
        "-",
    ],
    # One worker per queue (optionsdesk/celery.py): ticks never wait behind research.
    "worker-agent": [
        "celery",
        "-A",
        "optionsdesk",
        "worker",
        "-Q",
        "agent",
        "-n",
        "agent@%h",
        "-l",
        "info",
        "--concurrency",
        "2",
    ],
    "worker-research": [
        "celery",
        "-A",
        "optionsdesk",
        "worker",
        "-Q",
        "research,celery",
        "-n",
        "research@%h",
        "-l",
        "info",
        "--concurrency",
        "2",
    ],
    "beat": [
        "celery",
        "-A",
        "optionsdesk",
        "beat",
        "-l",
        "info",
        "--scheduler",
        "django_celery_beat.schedulers:DatabaseScheduler",
    ],
    "bot": ["python", "manage.py", "run_reviewbot"],
}


def command(name: str, **values: str) -> list[str]:
    """The argv of one process with its placeholders ({bind}, {sim_port}) filled in."""
    return [part.format(**values) for part in PROCESSES[name]]
