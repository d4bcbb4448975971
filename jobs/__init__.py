"""Thin entry points: parse arguments and config, build the session, call the pipeline."""
