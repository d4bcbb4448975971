"""A local Spark Connect server for the test suite's Connect pass (and for trying the jobs
through Connect by hand: ``python -m tests.connect_server`` prints its address until Ctrl-C).

It is started from the pip-installed pyspark with ``spark-submit --class
...SparkConnectServer``, the cached Delta jars, Delta's SQL extension and catalog and the
project's engine settings (as a cluster's Spark config would hold them), bound to 127.0.0.1;
its Python workers (foreachBatch) run this interpreter. Stopped by its pid.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pyspark.find_spark_home import _find_spark_home

from pipelines.io.spark_session import DELTA_CONF, ENGINE_CONF, RUNTIME_CONF, STATIC_CONF, cached_jars, default_jars_cache, fetch_delta_jars

SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
SERVER_CONF = {
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.databricks.delta.snapshotPartitions": "2",
    "spark.driver.memory": "2g",
    "spark.log.level": "ERROR",
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ConnectServer:
    def __init__(self, master: str = "local[2]"):
        self.master, self.port = master, _free_port()
        self.url = f"sc://127.0.0.1:{self.port}"
        self.log = Path(tempfile.mkstemp(prefix="spark-connect-", suffix=".log")[1])
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 180) -> "ConnectServer":
        jars = cached_jars(default_jars_cache()) or fetch_delta_jars()
        conf = {**SERVER_CONF, **STATIC_CONF, **DELTA_CONF, **RUNTIME_CONF, **ENGINE_CONF,
                "spark.connect.grpc.binding.address": "127.0.0.1", "spark.connect.grpc.binding.port": str(self.port)}
        command = [os.path.join(_find_spark_home(), "bin", "spark-submit"), "--class", SERVER_CLASS,
                   "--master", self.master, "--jars", ",".join(jars)]
        for key, value in conf.items():
            command += ["--conf", f"{key}={value}"]
        env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "SPARK_HOME": _find_spark_home()}
        env.pop("SPARK_REMOTE", None)
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env,
                                            start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the Spark Connect server exited; see {self.log}:\n{self.log.read_text()[-3000:]}")
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"the Spark Connect server did not start within {timeout:.0f}s; see {self.log}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process = None


if __name__ == "__main__":
    server = ConnectServer().start()
    print(f"Spark Connect server at {server.url} (log {server.log}); export SPARK_REMOTE={server.url}", flush=True)
    try:
        server.process.wait()
    except KeyboardInterrupt:
        server.stop()
