"""A real SMTP server (aiosmtpd on loopback) that can be told to misbehave the way mail servers
do: refuse a recipient at RCPT or at DATA (one address or every one, "4xx" or "5xx"), drop the
connection after taking a message without answering, advertise PIPELINING or not, be stopped and started again on the same
port, or SIGKILL a worker process just after taking a message, before its answer leaves."""

import os
import signal
from collections import Counter
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

from aiosmtpd.controller import Controller

from conftest import free_port

EVERYONE = "*"


class MisbehavingSink:
    def __init__(self, port: int | None = None, pipelining: bool = False) -> None:
        self.port = port or free_port()
        self.pipelining = pipelining  # advertise RFC 2920 (aiosmtpd reads commands in order anyway)
        self.messages: list[EmailMessage] = []
        self.refuse_rcpt: dict[str, str] = {}  # address (or EVERYONE) -> the reply, e.g. "550 No such user"
        self.refuse_data: dict[str, str] = {}
        self.drop_after_data: set[str] = set()  # take the message, then hang up without answering
        self.kill_after_data: dict[str, int] = {}  # take the message, SIGKILL this pid, then answer
        self.controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> "MisbehavingSink":
        sink = self

        class Handler:
            async def handle_EHLO(self, server, session, envelope, hostname, responses):
                session.host_name = hostname
                if sink.pipelining:
                    responses.insert(-1, "250-PIPELINING")
                return responses

            async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
                reply = sink.refuse_rcpt.get(address) or sink.refuse_rcpt.get(EVERYONE)
                if reply:
                    return reply
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server, session, envelope):
                (to,) = envelope.rcpt_tos
                reply = sink.refuse_data.get(to) or sink.refuse_data.get(EVERYONE)
                if reply:
                    return reply
                sink.messages.append(message_from_bytes(envelope.content, policy=default))
                if to in sink.kill_after_data:
                    os.kill(sink.kill_after_data.pop(to), signal.SIGKILL)
                if to in sink.drop_after_data:
                    sink.drop_after_data.discard(to)
                    server.transport.abort()
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def by_to(self) -> Counter:
        return Counter(m["To"] for m in self.messages)

    def by_token(self) -> Counter:
        """The recipient token in each message's click link."""
        import re

        tokens: Counter[str | None] = Counter()
        for message in self.messages:
            body = message.get_body(("plain",))
            found = re.search(r"/p/c/([A-Za-z0-9_-]+)/", body.get_content() if body is not None else "")
            tokens[found.group(1) if found else None] += 1
        return tokens
