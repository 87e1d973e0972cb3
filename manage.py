#!/usr/bin/env python
"""Django's command-line utility for optionsdesk."""

import os
import sys


def main() -> None:
    """Run a management command; a bad configuration exits with one line, not a traceback."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "optionsdesk.settings")
    from django.core.management import execute_from_command_line

    from optionsdesk.config import ConfigError

    try:
        execute_from_command_line(sys.argv)
    except ConfigError as exc:
        sys.stderr.write(f"optionsdesk: configuration error: {exc}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
