"""``python -m airflow_provider_firefly.testing`` = the emulator CLI."""

import sys

from .emulator import main

if __name__ == "__main__":
    sys.exit(main())
