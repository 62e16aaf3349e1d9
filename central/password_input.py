"""Reading a password for the CLI without ever taking it from the command line, where `ps` and the shell
history show it to others: from a file, the environment, or typed at a terminal."""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path


class PasswordUnavailable(ValueError):
    """No password could be read; the message says where one can come from."""


def read_password(what: str, *, file: Path | None, env_var: str, prompt: bool = True) -> str:
    """A password from `file` (its first line), else the environment variable `env_var`, else typed twice at
    a terminal (when `prompt` and standard input is one)."""
    if file is not None:
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise PasswordUnavailable(f"cannot read the password file {file}: {exc.strerror or exc}") from None
        if not lines or not lines[0]:
            raise PasswordUnavailable(f"the password file {file} is empty")
        return lines[0]
    value = os.environ.get(env_var)
    if value:
        return value
    if prompt and sys.stdin is not None and sys.stdin.isatty():
        first = getpass.getpass(f"password for {what}: ")
        if not first:
            raise PasswordUnavailable("empty password")
        if getpass.getpass(f"password for {what} again: ") != first:
            raise PasswordUnavailable("the two passwords differ")
        return first
    raise PasswordUnavailable(f"no password for {what}: give --password-file FILE, set {env_var}, "
                              "or run it at a terminal to type it")
