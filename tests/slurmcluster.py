"""A real single-node Slurm cluster for the tests: munged, slurmctld and slurmd from Debian's
`slurm-wlm` and `munge`, started in a folder of their own and stopped by process id.

It needs root (slurmd runs jobs as their users) and the packages; `unavailable()` says why not
when it cannot start. Clients find it through `SLURM_CONF` (in `env`). There is no accounting
storage (`sacct` answers that it is disabled): flexgit then reads job states with `scontrol`,
and `MinJobAge` keeps finished jobs known to slurmctld for an hour. `KillWait` is short so a
cancelled or timed-out job ends within seconds of its signal.

Also a script, for benchmarks and manual checks:
    python tests/slurmcluster.py DIR   # starts one in DIR, prints `export SLURM_CONF=...`; Ctrl-C or SIGTERM stops it
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

DAEMONS = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "scontrol", "squeue", "srun")
START_TIMEOUT = 30


def unavailable() -> str | None:
    """Why a cluster cannot start here, or None."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "a Slurm test cluster needs root (slurmd runs jobs as their users); CI runs as root"
    missing = [name for name in DAEMONS if shutil.which(name) is None
               and not Path("/usr/sbin", name).exists()]
    if missing:
        return (f"Slurm or munge is not installed ({', '.join(missing)} missing); "
                "'make system-deps' installs slurm-wlm and munge as root")
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _program(name: str) -> str:
    return shutil.which(name) or str(Path("/usr/sbin", name))


class SlurmCluster:
    """One node (this machine, all its CPUs), one partition `debug`, everything under `root`."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.node = socket.gethostname().split(".")[0]
        self.conf = self.root / "slurm.conf"
        self.env = {"SLURM_CONF": str(self.conf)}
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self) -> "SlurmCluster":
        """Start munged, slurmctld and slurmd; return once the node takes jobs (or raise RuntimeError)."""
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)  # munged refuses a key or socket in a folder others may write
        for folder in ("state", "spool", "munge"):
            (self.root / folder).mkdir(exist_ok=True, mode=0o700)
        munge = self.root / "munge"
        key = munge / "munge.key"
        subprocess.run([_program("mungekey"), "--create", f"--keyfile={key}", "--force"], check=True,
                       capture_output=True)
        os.chmod(key, 0o600)
        socket_path = munge / "munge.socket"
        try:
            self._spawn("munged", [_program("munged"), "-F", "-f", f"--key-file={key}", f"--socket={socket_path}",
                                   f"--pid-file={munge / 'munged.pid'}", f"--log-file={munge / 'munged.log'}",
                                   f"--seed-file={munge / 'munged.seed'}"])
            self._wait(lambda: socket_path.exists(), "munged did not create its socket", munge / "munged.log")
            self.conf.write_text(self._conf(socket_path))
            self._spawn("slurmctld", [_program("slurmctld"), "-D", "-f", str(self.conf)])
            self._spawn("slurmd", [_program("slurmd"), "-D", "-f", str(self.conf), "-N", self.node])
            self._wait(self._node_ready, "the node did not come up", self.root / "slurmctld.log")
        except BaseException:
            self.stop()
            raise
        return self

    def _conf(self, socket_path: Path) -> str:
        cpus = os.cpu_count() or 1
        root = self.root
        return "\n".join([
            "ClusterName=flexgittest",
            f"SlurmctldHost={self.node}(127.0.0.1)",
            "SlurmUser=root",
            "SlurmdUser=root",
            f"SlurmctldPort={_free_port()}",
            f"SlurmdPort={_free_port()}",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"AuthInfo=socket={socket_path}",
            f"StateSaveLocation={root / 'state'}",
            f"SlurmdSpoolDir={root / 'spool'}",
            f"SlurmctldPidFile={root / 'slurmctld.pid'}",
            f"SlurmdPidFile={root / 'slurmd.pid'}",
            f"SlurmctldLogFile={root / 'slurmctld.log'}",
            f"SlurmdLogFile={root / 'slurmd.log'}",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "JobAcctGatherType=jobacct_gather/none",
            "AccountingStorageType=accounting_storage/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_CPU",
            "SchedulerType=sched/builtin",
            "MpiDefault=none",
            "ReturnToService=2",
            "MinJobAge=3600",
            "KillWait=2",
            "InactiveLimit=0",
            f"NodeName={self.node} NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN",
            f"PartitionName=debug Nodes={self.node} Default=YES MaxTime=INFINITE State=UP",
            "",
        ])

    def _spawn(self, name: str, command: list[str]) -> None:
        log = open(self.root / f"{name}.out", "ab")
        self.processes[name] = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                                stdin=subprocess.DEVNULL, env={**os.environ, **self.env})
        log.close()

    def _node_ready(self) -> bool:
        done = subprocess.run([shutil.which("sinfo") or "sinfo", "-h", "-N", "-o", "%T"], capture_output=True,
                              text=True, env={**os.environ, **self.env})
        return done.returncode == 0 and done.stdout.strip() in ("idle", "mixed", "allocated")

    def _wait(self, ready, what: str, log: Path) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            dead = [name for name, process in self.processes.items() if process.poll() is not None]
            if dead:
                raise RuntimeError(f"{dead[0]} exited at start: {self._tail(self.root / f'{dead[0]}.out')}"
                                   f"{self._tail(log)}")
            if ready():
                return
            time.sleep(0.2)
        raise RuntimeError(f"{what} within {START_TIMEOUT} s: {self._tail(log)}")

    @staticmethod
    def _tail(path: Path) -> str:
        try:
            return " | ".join(path.read_text(errors="replace").splitlines()[-5:])
        except OSError:
            return ""

    def stop(self) -> None:
        """Cancel every job of this cluster, then stop the daemons this object started, by process id."""
        if "slurmctld" in self.processes and self.processes["slurmctld"].poll() is None:
            env = {**os.environ, **self.env}
            subprocess.run([shutil.which("scancel") or "scancel", "--full", "--user=root"], env=env,
                           capture_output=True)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                queue = subprocess.run([shutil.which("squeue") or "squeue", "-h", "-t", "R,CG,S"], env=env,
                                       capture_output=True, text=True)
                if queue.returncode != 0 or not queue.stdout.strip():
                    break
                time.sleep(0.3)
        for name in ("slurmd", "slurmctld", "munged"):
            process = self.processes.pop(name, None)
            if process is None or process.poll() is not None:
                continue
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def scontrol(self, *args: str) -> str:
        done = subprocess.run([shutil.which("scontrol") or "scontrol", *args], capture_output=True, text=True,
                              env={**os.environ, **self.env})
        if done.returncode != 0:
            raise RuntimeError(f"scontrol {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout


if __name__ == "__main__":
    reason = unavailable()
    if reason:
        sys.exit(reason)
    cluster = SlurmCluster(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("slurm-cluster")).start()
    print(f"export SLURM_CONF={cluster.conf}", flush=True)
    signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(0))
    signal.signal(signal.SIGINT, lambda number, frame: sys.exit(0))  # ignored in a shell's background jobs
    try:
        signal.pause()
    finally:
        cluster.stop()
