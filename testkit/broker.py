"""A private Mosquitto broker for tests and benchmarks."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from testkit.ports import free_port, wait_port


class Broker:
    """A private Mosquitto on a free port, with persistence, that a test may kill and restart."""

    def __init__(self, workdir: Path, extra_conf: str = "", port: int | None = None):
        self.workdir = workdir
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.extra_conf = extra_conf
        self.proc: subprocess.Popen | None = None
        workdir.mkdir(parents=True, exist_ok=True)

    def conf_text(self) -> str:
        base = (
            f"listener {self.port} 127.0.0.1\n"
            f"persistence true\npersistence_location {self.workdir}/\n"
            "autosave_interval 1\nmax_queued_messages 100000\nmax_inflight_messages 100\n"
            "message_size_limit 4194304\n"
        )
        if "allow_anonymous" not in self.extra_conf:
            base += "allow_anonymous true\n"
        if hasattr(os, "geteuid") and os.geteuid() == 0 and "\nuser " not in f"\n{self.extra_conf}":
            base += "user root\n"  # else Mosquitto drops to `mosquitto`, cannot write here: no persistence
        return base + self.extra_conf

    def start(self) -> Broker:
        mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(self.conf_text())
        log = open(self.workdir / "mosquitto.log", "ab")
        self.proc = subprocess.Popen([mosquitto, "-c", str(conf)], stdout=log, stderr=log)
        wait_port(self.port)
        return self

    def stop(self, kill: bool = False) -> None:
        if self.proc and self.proc.poll() is None:
            if kill:
                self.proc.kill()
            else:
                self.proc.terminate()
            self.proc.wait(10)
        self.proc = None
