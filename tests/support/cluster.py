"""A Spark standalone cluster (1 master + N workers) on 127.0.0.1 from the pip pyspark installation, for tests.

    with StandaloneCluster.start(tmp_path) as cluster:      # or the module fixture `standalone_cluster`
        proc = cluster.submit(["run", "--omop", ..., "--out", ...])
        assert proc.returncode == 0, proc.stderr

The pip package has no start-master.sh / start-worker.sh: the daemons are started with `spark-class`, which
execs the JVM, so each child's pid is the JVM. Each daemon gets its own process group (start_new_session);
executors are children of their worker and share its group, so `stop()` kills every group: no orphans.
Everything listens on 127.0.0.1 on free ports; logs, work dirs and event logs live under the given folder.
Workers (and so executors and their Python workers) use this interpreter's venv (`PYSPARK_PYTHON`).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pyspark

from jobs.session import JVM_OPTIONS

ROOT = Path(__file__).resolve().parents[2]
SPARK_HOME = Path(pyspark.__file__).resolve().parent
MAIN = ROOT / "jobs" / "main.py"
LOG4J = ROOT / "jobs" / "log4j2.properties"
EXECUTOR_CLASS = "org.apache.spark.executor.CoarseGrainedExecutorBackend"


@dataclass(frozen=True)
class Executor:
    pid: int
    app_id: str
    executor_id: str

    def alive(self) -> bool:
        """True while the process exists and is not a zombie."""
        try:
            state = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        return state != "Z"


def _arg(args: list[str], name: str) -> str:
    return args[args.index(name) + 1] if name in args and args.index(name) + 1 < len(args) else ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_env(log_dir: Path, python: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "SPARK_HOME": str(SPARK_HOME),
        "SPARK_LOG_DIR": str(log_dir),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_PYTHON": python,
        "PYSPARK_DRIVER_PYTHON": python,
    })
    for key in ("PYSPARK_GATEWAY_PORT", "PYSPARK_GATEWAY_SECRET", "SPARK_CONF_DIR"):  # never inherit a driver's
        env.pop(key, None)
    return env


@dataclass
class StandaloneCluster:
    base: Path
    master_port: int
    master_ui_port: int
    python: str
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    started_seconds: float = 0.0

    @property
    def master_url(self) -> str:
        return f"spark://127.0.0.1:{self.master_port}"

    @property
    def log_dir(self) -> Path:
        return self.base / "logs"

    @property
    def event_dir(self) -> Path:
        return self.base / "events"

    # ---- lifecycle -------------------------------------------------------------------------------------------
    @classmethod
    def start(cls, base: Path, workers: int = 2, cores: int = 1, memory: str = "1g",
              python: str = sys.executable, timeout: float = 120.0) -> StandaloneCluster:
        base = Path(base)
        for sub in ("logs", "events"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        cluster = cls(base, free_port(), free_port(), python)
        t0 = time.monotonic()
        try:
            cluster._spawn("master", ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                                      "--port", str(cluster.master_port),
                                      "--webui-port", str(cluster.master_ui_port)])
            cluster._wait(lambda s: s.get("status") == "ALIVE", timeout, "master ALIVE")
            for i in range(workers):
                work = base / f"worker{i}"
                work.mkdir(exist_ok=True)
                cluster._spawn(f"worker{i}", ["org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
                                              "--port", str(free_port()), "--webui-port", str(free_port()),
                                              "--cores", str(cores), "--memory", memory, "--work-dir", str(work),
                                              cluster.master_url])
            cluster._wait(lambda s: s.get("aliveworkers") == workers, timeout, f"{workers} alive workers")
        except BaseException:
            cluster.stop()
            raise
        cluster.started_seconds = time.monotonic() - t0
        return cluster

    def _spawn(self, name: str, args: list[str]) -> None:
        env = base_env(self.log_dir, self.python)
        env["SPARK_MASTER_OPTS"] = "-Dspark.master.rest.enabled=false"
        env["SPARK_DAEMON_JAVA_OPTS"] = f"-Dlog4j2.configurationFile=file:{LOG4J}"
        log = (self.log_dir / f"{name}.log").open("wb")
        self.procs[name] = subprocess.Popen([str(SPARK_HOME / "bin" / "spark-class"), *args], env=env,
                                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True)
        log.close()

    def _wait(self, ok, timeout: float, what: str) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited ({proc.returncode}) while waiting for {what}; "
                                       f"see {self.log_dir / (name + '.log')}")
            with contextlib.suppress(OSError, ValueError):
                state = self.state()
                if ok(state):
                    return state
            time.sleep(0.5)
        raise TimeoutError(f"standalone cluster: no {what} after {timeout:.0f}s; logs in {self.log_dir}")

    def stop(self) -> None:
        """Kill every daemon's process group (workers' groups hold their executors), then reap."""
        for proc in reversed(list(self.procs.values())):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        for proc in self.procs.values():  # whatever ignored SIGTERM, and any executor left in a group
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)

    def __enter__(self) -> StandaloneCluster:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- state -----------------------------------------------------------------------------------------------
    def state(self) -> dict:
        """The master's `/json/` (status, aliveworkers, workers, activeapps, completedapps)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.master_ui_port}/json/", timeout=5) as r:
            return json.load(r)

    def active_app_ids(self) -> list[str]:
        return [a["id"] for a in self.state().get("activeapps", [])]

    def worker_pids(self) -> set[int]:
        return {p.pid for name, p in self.procs.items() if name.startswith("worker") and p.poll() is None}

    def executors(self, app_id: str | None = None) -> list[Executor]:
        """The live executor JVMs started by this cluster's workers (optionally of one app), oldest pid first."""
        workers = self.worker_pids()
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid not in workers or EXECUTOR_CLASS.encode() not in argv:
                continue
            args = [a.decode() for a in argv]
            ex = Executor(int(entry.name), _arg(args, "--app-id"), _arg(args, "--executor-id"))
            if app_id is None or ex.app_id == app_id:
                found.append(ex)
        return sorted(found, key=lambda e: e.pid)

    def kill_executor(self, app_id: str | None = None, sig: int = signal.SIGKILL) -> Executor:
        """`kill -9` one executor JVM of `app_id` (or of any app on this cluster); returns it. Raises if none."""
        found = self.executors(app_id)
        if not found:
            raise LookupError(f"no executor of {app_id or 'any app'} on this cluster")
        os.kill(found[0].pid, sig)
        return found[0]

    # ---- spark-submit ----------------------------------------------------------------------------------------
    def submit_command(self, job_args: list[str], conf: dict[str, str] | None = None,
                       extra: list[str] | None = None, driver_memory: str = "1g", app: Path = MAIN) -> list[str]:
        """The spark-submit argv (client mode; quiet logs; event log on; few shuffle partitions)."""
        settings = {
            "spark.executor.memory": "1g",  # fits the workers' --memory
            "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile=file:{LOG4J} {JVM_OPTIONS}",
            "spark.sql.shuffle.partitions": "4",
            "spark.ui.enabled": "false",
            "spark.eventLog.enabled": "true",  # the event log shows lost executors and task retries
            "spark.eventLog.dir": self.event_dir.as_uri(),
            "spark.eventLog.compress": "false",  # Spark 4 defaults: zstd-compressed, rolling (eventlog_v2_<app>/)
            "spark.eventLog.rolling.enabled": "false",
            **(conf or {}),
        }
        cmd = [str(SPARK_HOME / "bin" / "spark-submit"), "--master", self.master_url, "--deploy-mode", "client",
               "--driver-memory", driver_memory]
        for key, value in settings.items():
            cmd += ["--conf", f"{key}={value}"]
        return [*cmd, *(extra or []), str(app), *job_args]

    def submit_env(self, env: dict[str, str] | None = None) -> dict[str, str]:
        return {**base_env(self.log_dir, self.python), **(env or {})}

    def submit(self, job_args: list[str], conf: dict[str, str] | None = None, extra: list[str] | None = None,
               env: dict[str, str] | None = None, timeout: float = 600, cwd: Path = ROOT,
               driver_memory: str = "1g") -> subprocess.CompletedProcess:
        """Run `spark-submit jobs/main.py <job_args>` against this cluster; returns the CompletedProcess."""
        return subprocess.run(self.submit_command(job_args, conf, extra, driver_memory), env=self.submit_env(env),
                              cwd=cwd, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)

    def submit_async(self, job_args: list[str], log: Path, conf: dict[str, str] | None = None,
                     extra: list[str] | None = None, env: dict[str, str] | None = None, cwd: Path = ROOT,
                     driver_memory: str = "1g") -> subprocess.Popen:
        """Start spark-submit in the background (stdout+stderr to `log`), in its own process group."""
        with log.open("wb") as fh:
            return subprocess.Popen(self.submit_command(job_args, conf, extra, driver_memory),
                                    env=self.submit_env(env), cwd=cwd, stdout=fh, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)

    def app_events(self, app_id: str) -> list[dict]:
        """The app's event log (uncompressed, as submit_command configures it), as a list of JSON events."""
        files = sorted(p for p in self.event_dir.rglob(f"*{app_id}*")
                       if p.is_file() and not p.name.startswith((".", "appstatus")) and p.suffix != ".zstd")
        events = []
        for f in files:
            events += [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
        return events


def stop_process_group(proc: subprocess.Popen) -> None:
    """Kill a background spark-submit (driver JVM + Python driver) started with submit_async."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
