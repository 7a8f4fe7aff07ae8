"""A real single-node Slurm cluster for the tests: munged, slurmctld and slurmd from Debian's
`slurm-wlm` and `munge`, started in a folder of their own and stopped by process id.

It needs root (slurmd runs jobs as their users) and the packages; `unavailable()` says why not
when it cannot start. Clients find it through `SLURM_CONF` (in `env`). By default there is no
accounting storage (`sacct` answers that it is disabled): flexgit then reads job states with
`scontrol`, and `MinJobAge` keeps finished jobs known to slurmctld for an hour. With
`accounting=True` it also runs slurmdbd on a MariaDB of its own (Debian's `slurmdbd` and
`mariadb-server`; `accounting_unavailable()` says why not), and `sacct` answers. `KillWait` is
short so a cancelled or timed-out job ends within seconds of its signal.

Memory is a consumable resource (`CR_CPU_Memory`), so `--mem` is a limit Slurm enforces. Where
cgroup v1's memory controller is writable, task/cgroup enforces it as most clusters do, and a
job over its limit ends `OUT_OF_MEMORY`; elsewhere (or with `cgroups=False`) jobacct_gather
polls each second and kills it (`OverMemoryKill`), and Slurm 22.05 says `FAILED` (signal 9).

Also a script, for benchmarks and manual checks:
    python tests/slurmcluster.py DIR [--accounting]   # starts one in DIR, prints `export SLURM_CONF=...`;
                                                      # Ctrl-C or SIGTERM stops it
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

DAEMONS = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "scontrol", "squeue", "srun")
ACCOUNTING = ("slurmdbd", "mariadbd", "mariadb-install-db", "sacct")
START_TIMEOUT = 30
CGROUP_MEMORY = Path("/sys/fs/cgroup/memory")


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


def accounting_unavailable() -> str | None:
    """Why a cluster with accounting (slurmdbd on MariaDB) cannot start here, or None."""
    missing = [name for name in ACCOUNTING if shutil.which(name) is None and not Path("/usr/sbin", name).exists()]
    if missing:
        return (f"slurmdbd or MariaDB is not installed ({', '.join(missing)} missing); "
                "'make system-deps' installs slurmdbd and mariadb-server as root")
    return None


def cgroup_memory() -> bool:
    """True where cgroup v1's memory controller takes new groups (Slurm 22.05's task/cgroup needs it without
    systemd); cgroup v2 alone is not enough."""
    probe = CGROUP_MEMORY / f"flexgit-probe-{os.getpid()}"
    try:
        probe.mkdir()
        probe.rmdir()
    except OSError:
        return False
    return True


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _program(name: str) -> str:
    return shutil.which(name) or str(Path("/usr/sbin", name))


class SlurmCluster:
    """One node (this machine, all its CPUs), one partition `debug`, everything under `root`."""

    def __init__(self, root: Path, accounting: bool = False, cgroups: bool | None = None, min_job_age: int = 3600):
        self.root = Path(root)
        self.node = socket.gethostname().split(".")[0]
        self.conf = self.root / "slurm.conf"
        self.env = {"SLURM_CONF": str(self.conf)}
        self.processes: dict[str, subprocess.Popen] = {}
        self.accounting = accounting
        self.cgroups = cgroup_memory() if cgroups is None else cgroups
        self.min_job_age = min_job_age
        self.made_cgroup: Path | None = None  # task/cgroup's folder, if this cluster made it
        self.dbd_port = _free_port() if accounting else 0

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
            if self.cgroups:
                self._cgroup_conf()
            if self.accounting:
                self._start_accounting(socket_path)
            self._spawn("slurmctld", [_program("slurmctld"), "-D", "-f", str(self.conf)])
            self._spawn("slurmd", [_program("slurmd"), "-D", "-f", str(self.conf), "-N", self.node])
            self._wait(self._node_ready, "the node did not come up", self.root / "slurmctld.log")
        except BaseException:
            self.stop()
            raise
        return self

    def _conf(self, socket_path: Path) -> str:
        cpus = os.cpu_count() or 1
        # what slurmd finds (it drains a node that has less than RealMemory), less a margin
        memory = int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20 * 0.9)
        root = self.root
        if self.cgroups:
            enforce = ["TaskPlugin=task/cgroup", "JobAcctGatherType=jobacct_gather/none"]
        else:
            enforce = ["TaskPlugin=task/none", "JobAcctGatherType=jobacct_gather/linux",
                       "JobAcctGatherParams=OverMemoryKill", "JobAcctGatherFrequency=task=1"]
        if self.accounting:
            storage = ["AccountingStorageType=accounting_storage/slurmdbd", "AccountingStorageHost=127.0.0.1",
                       f"AccountingStoragePort={self.dbd_port}",
                       f"AccountingStoragePass={socket_path}"]  # the munge socket of the slurmdbd connection
        else:
            storage = ["AccountingStorageType=accounting_storage/none"]
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
            *enforce,
            *storage,
            # task/cgroup's groups are named after job ids: another cluster on this machine starts elsewhere
            f"FirstJobId={random.randrange(1000, 50_000_000)}",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_CPU_Memory",
            f"DefMemPerCPU={memory // cpus}",
            "SchedulerType=sched/builtin",
            "MpiDefault=none",
            "ReturnToService=2",
            f"MinJobAge={self.min_job_age}",
            "KillWait=2",
            "InactiveLimit=0",
            f"NodeName={self.node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory} State=UNKNOWN",
            f"PartitionName=debug Nodes={self.node} Default=YES MaxTime=INFINITE State=UP",
            "",
        ])

    def _cgroup_conf(self) -> None:
        slurm_dir = CGROUP_MEMORY / f"slurm_{self.node}"
        self.made_cgroup = None if slurm_dir.exists() else slurm_dir
        swap = (CGROUP_MEMORY / "memory.memsw.limit_in_bytes").exists()  # else a job could swap, not fail
        (self.root / "cgroup.conf").write_text("\n".join([
            "CgroupPlugin=cgroup/v1", f"CgroupMountpoint={CGROUP_MEMORY.parent}", "ConstrainRAMSpace=yes",
            *(["ConstrainSwapSpace=yes"] if swap else []), ""]))

    def _start_accounting(self, socket_path: Path) -> None:
        """MariaDB in `db/` on a port of its own, and slurmdbd on it (it makes its tables at first start)."""
        db = self.root / "db"
        db.mkdir(exist_ok=True)
        subprocess.run([shutil.which("mariadb-install-db") or "mariadb-install-db", f"--datadir={db / 'data'}",
                        "--user=root", "--auth-root-authentication-method=normal", "--skip-test-db"],
                       check=True, capture_output=True)
        db_port = _free_port()
        self._spawn("mariadbd", [_program("mariadbd"), "--no-defaults", f"--datadir={db / 'data'}",
                                 f"--socket={db / 'mariadb.sock'}", f"--port={db_port}", "--bind-address=127.0.0.1",
                                 "--user=root", f"--pid-file={db / 'mariadbd.pid'}", f"--log-error={db / 'error.log'}",
                                 "--skip-log-bin", "--innodb-buffer-pool-size=32M"])
        self._wait(lambda: (db / "mariadb.sock").exists(), "MariaDB did not start", db / "error.log")
        dbd_conf = self.root / "slurmdbd.conf"  # slurmdbd reads it beside SLURM_CONF; only its user may
        dbd_conf.write_text("\n".join([
            "AuthType=auth/munge", f"AuthInfo=socket={socket_path}", "DbdHost=localhost", "DbdAddr=127.0.0.1",
            f"DbdPort={self.dbd_port}", "SlurmUser=root", f"PidFile={self.root / 'slurmdbd.pid'}",
            f"LogFile={self.root / 'slurmdbd.log'}", "StorageType=accounting_storage/mysql",
            "StorageHost=127.0.0.1", f"StoragePort={db_port}", "StorageUser=root", "StorageLoc=slurm_acct_db", ""]))
        os.chmod(dbd_conf, 0o600)
        self._spawn("slurmdbd", [_program("slurmdbd"), "-D"])
        self._wait(lambda: _listening(self.dbd_port), "slurmdbd did not start", self.root / "slurmdbd.log")

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
        for name in ("slurmd", "slurmctld", "slurmdbd", "mariadbd", "munged"):
            process = self.processes.pop(name, None)
            if process is None or process.poll() is not None:
                continue
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.made_cgroup is not None:  # task/cgroup leaves its empty groups behind: the deepest first
            for group in sorted(self.made_cgroup.glob("**/"), key=lambda path: -len(path.parts)):
                with contextlib.suppress(OSError):
                    group.rmdir()

    def resume(self) -> None:
        """Bring the node back after `scontrol update NodeName=... State=DOWN` and wait until it takes jobs.
        With `ReturnToService=2` slurmctld takes it back as soon as slurmd answers, often before this asks."""
        with contextlib.suppress(RuntimeError):  # "Invalid node state transition": it is back already
            self.scontrol("update", f"NodeName={self.node}", "State=RESUME")
        self._wait(self._node_ready, "the node did not come back", self.root / "slurmctld.log")

    def scontrol(self, *args: str) -> str:
        done = subprocess.run([shutil.which("scontrol") or "scontrol", *args], capture_output=True, text=True,
                              env={**os.environ, **self.env})
        if done.returncode != 0:
            raise RuntimeError(f"scontrol {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout


if __name__ == "__main__":
    arguments = [each for each in sys.argv[1:] if each != "--accounting"]
    with_accounting = "--accounting" in sys.argv[1:]
    reason = unavailable() or (accounting_unavailable() if with_accounting else None)
    if reason:
        sys.exit(reason)
    cluster = SlurmCluster(Path(arguments[0]) if arguments else Path("slurm-cluster"), accounting=with_accounting)
    cluster.start()
    print(f"export SLURM_CONF={cluster.conf}", flush=True)
    signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(0))
    signal.signal(signal.SIGINT, lambda number, frame: sys.exit(0))  # ignored in a shell's background jobs
    try:
        signal.pause()
    finally:
        cluster.stop()
