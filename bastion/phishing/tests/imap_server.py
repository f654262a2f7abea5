"""A real IMAP server for tests: Debian's dovecot (package dovecot-imapd), started on a free
loopback port with its whole configuration, state and mail in a temporary directory (no
system configuration is read). One mailbox user with a plain password, Maildir storage.

Dovecot runs its login and internal processes as unprivileged users: as root it uses the
package's own ``dovecot`` and ``dovenull`` users, otherwise the current user for everything.
"""

import getpass
import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER = "reports"
PASSWORD = "imap-Secret-4711"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _users() -> tuple[str, str, str]:
    """(internal user, login user, mail user): who dovecot's processes and mail files run as."""
    if os.geteuid() == 0:
        for name in ("dovecot", "dovenull"):
            pwd.getpwnam(name)  # KeyError: the dovecot package is not installed properly
        return "dovecot", "dovenull", "dovecot"
    me = getpass.getuser()
    return me, me, me


class ImapServer:
    def __init__(self) -> None:
        # A short path: dovecot's Unix sockets live under base_dir (108 bytes at most).
        self.dir = Path(tempfile.mkdtemp(prefix="bdv"))
        self.port = _free_port()
        self.user, self.password = USER, PASSWORD
        internal, login, mail_user = _users()
        entry = pwd.getpwnam(mail_user)
        for sub in ("base", "state", "mail"):
            (self.dir / sub).mkdir()
        (self.dir / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
        os.chmod(self.dir, 0o755)  # noqa: S103 - dovecot's unprivileged processes reach their files through it
        if os.geteuid() == 0:
            os.chown(self.dir / "mail", entry.pw_uid, entry.pw_gid)
        (self.dir / "dovecot.conf").write_text(f"""
protocols = imap
listen = 127.0.0.1
base_dir = {self.dir}/base
state_dir = {self.dir}/state
instance_name = bastion-test-{self.port}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal}
default_internal_group = {_group(internal)}
default_login_user = {login}
first_valid_uid = 0
log_path = {self.dir}/dovecot.log
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {self.dir}/passwd
}}
userdb {{
  driver = static
  args = uid={entry.pw_uid} gid={entry.pw_gid} home={self.dir}/mail/%u
}}
mail_location = maildir:{self.dir}/mail/%u/Maildir
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
""")
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen([DOVECOT, "-c", str(self.dir / "dovecot.conf"), "-F"],
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                out = self.process.stdout.read().decode(errors="replace") if self.process.stdout else ""
                raise RuntimeError(f"dovecot exited with {self.process.returncode}: {out}{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    if s.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("dovecot did not start listening within 15 s: " + self.log())

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stdout:
            self.process.stdout.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self) -> str:
        path = self.dir / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def client(self) -> imaplib.IMAP4:
        conn = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        conn.login(self.user, self.password)
        return conn

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        conn = self.client()
        try:
            typ, data = conn.append(f'"{folder}"', None, None, raw)
            assert typ == "OK", data
        finally:
            conn.logout()

    def uids(self, folder: str = "INBOX", criteria: str = "ALL") -> list[int]:
        conn = self.client()
        try:
            typ, _ = conn.select(f'"{folder}"', readonly=True)
            if typ != "OK":
                return []
            _, data = conn.uid("SEARCH", criteria)
            return [int(u) for u in (data[0] or b"").split()]
        finally:
            conn.logout()

    def flags(self, uid: int, folder: str = "INBOX") -> str:
        conn = self.client()
        try:
            conn.select(f'"{folder}"', readonly=True)
            _, data = conn.uid("FETCH", str(uid), "(FLAGS)")
            return (data[0] or b"").decode()
        finally:
            conn.logout()


def _group(user: str) -> str:
    import grp

    return grp.getgrgid(pwd.getpwnam(user).pw_gid).gr_name


@pytest.fixture
def imap_server():
    """A running dovecot with an empty INBOX for user ``reports``; stopped after the test."""
    if not os.path.exists(DOVECOT):
        pytest.fail("dovecot is not installed: apt-get install dovecot-imapd (CI installs it in .ci/run)")
    server = ImapServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()
