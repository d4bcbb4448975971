"""spark-submit entry point: ``spark-submit jobs/backfill.py [backfill arguments]``."""
import sys

from jobs.cli import main

if __name__ == "__main__":
    sys.exit(main(["backfill", *sys.argv[1:]]))
