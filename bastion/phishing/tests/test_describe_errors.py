"""What the team reads when the mail server refuses or is not a mail server at all: a mail
server's reply is quoted, another service's banner is not, and the password never shows."""

import socket
import threading

import pytest

from bastion.phishing import sending
from bastion.phishing.models import SendingProfile


def _banner_server(banner: bytes) -> tuple[socket.socket, int]:
    """A loopback service that says one line and closes, like an SSH daemon on the wrong port."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conn.sendall(banner)
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return server, server.getsockname()[1]


@pytest.mark.django_db
def test_another_services_banner_is_never_quoted():
    server, port = _banner_server(b"SSH-2.0-OpenSSH_9.6 secret-build-tag\r\n")
    try:
        profile = SendingProfile(name="p", smtp_url=f"smtp://u:hunter22@127.0.0.1:{port}", from_address="a@b.example")
        with pytest.raises(Exception) as caught:
            sending.smtp_connection(profile).open()
        text = sending.describe(caught.value, profile)
    finally:
        server.close()
    assert "OpenSSH" not in text and "secret-build-tag" not in text
    assert text == f"127.0.0.1:{port} did not answer as a mail server"


@pytest.mark.django_db
def test_a_mail_servers_refusal_is_quoted_and_the_password_never_shown():
    import smtplib

    profile = SendingProfile(name="p", smtp_url="smtp://u:zq@127.0.0.1:2525", from_address="a@b.example")
    refusal = smtplib.SMTPResponseException(550, b"5.7.1 Relaying denied\x00")
    assert sending.describe(refusal, profile) == "The mail server answered 550 5.7.1 Relaying denied "
    # A one-letter password found in the reply: the reply is withheld, not masked letter by letter.
    profile.smtp_url = "smtp://u:p@127.0.0.1:2525"
    echoed = smtplib.SMTPResponseException(535, b"5.7.8 bad credentials for user u pass p")
    text = sending.describe(echoed, profile)
    assert "bad credentials" not in text and "*" not in text
    assert text.startswith("The mail server's answer is not shown because it contained the password")
