"""spark-submit entry point: ``spark-submit jobs/hourly.py [hourly arguments]``."""
import sys

from jobs.cli import main

if __name__ == "__main__":
    sys.exit(main(["hourly", *sys.argv[1:]]))
