"""EmailOperator against a real SMTP server on 127.0.0.1 started by the test (no STARTTLS)."""

from __future__ import annotations

import base64
import email
import email.policy
import socket
import socketserver
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from dagcore import DAG
from dagcore.configuration import conf_vars
from dagcore.exceptions import DagcoreException
from dagcore.operators.email import EmailOperator, get_email_address_list

LOGICAL = datetime(2024, 3, 5, 6, 7, 8, tzinfo=UTC)


class Recorded:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.auth: list[str] = []


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        self.reply("220 test ESMTP")
        sender, rcpts = "", []
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            line = raw.decode().rstrip("\r\n")
            verb = line.split(" ", 1)[0].upper()
            if verb == "EHLO":
                self.reply("250-test")
                self.reply("250 AUTH PLAIN")
            elif verb == "HELO":
                self.reply("250 test")
            elif verb == "AUTH":
                self.server.recorded.auth.append(
                    base64.b64decode(line.split()[2]).decode())
                self.reply("235 ok")
            elif verb == "MAIL":
                sender, rcpts = line.split(":", 1)[1].strip().strip("<>"), []
                self.reply("250 ok")
            elif verb == "RCPT":
                rcpts.append(line.split(":", 1)[1].strip().strip("<>"))
                self.reply("250 ok")
            elif verb == "DATA":
                self.reply("354 go")
                body: list[bytes] = []
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    body.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                self.server.recorded.messages.append(
                    {"from": sender, "rcpts": rcpts, "data": b"".join(body)})
                self.reply("250 queued")
            elif verb == "RSET" or verb == "NOOP":
                self.reply("250 ok")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    recorded: Recorded


@pytest.fixture()
def smtp_server() -> Iterator[tuple[int, Recorded]]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.recorded = Recorded()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    try:
        with conf_vars({("smtp", "smtp_host"): "127.0.0.1", ("smtp", "smtp_port"): str(port),
                        ("smtp", "smtp_starttls"): "False",
                        ("smtp", "smtp_mail_from"): "dagcore@example.org"}):
            yield port, server.recorded
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def parse(data: bytes) -> EmailMessage:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def run(the_dag: DAG, task_id: str) -> Any:
    return the_dag.run_task(task_id, run_id="manual__1", logical_date=LOGICAL)


def test_addresses_split_on_commas_and_semicolons() -> None:
    assert get_email_address_list("a@x.org, b@x.org;c@x.org ;") == [
        "a@x.org", "b@x.org", "c@x.org"]
    assert get_email_address_list(["a@x.org", "b@x.org; c@x.org"]) == [
        "a@x.org", "b@x.org", "c@x.org"]
    with pytest.raises(TypeError, match="42"):
        get_email_address_list(42)  # type: ignore[arg-type]


def test_sends_recipients_subject_body_attachment_headers(
        smtp_server: tuple[int, Recorded], tmp_path: Path) -> None:
    _, recorded = smtp_server
    report = tmp_path / "report.csv"
    report.write_bytes(b"a,b\n1,2\n")
    with DAG("mail") as the_dag:
        EmailOperator("send", to="a@x.org; b@x.org", cc=["c@x.org"], bcc="d@x.org",
                      subject="Daily report", html_content="<h1>Hello</h1><p>é</p>",
                      files=[str(report)], custom_headers={"X-Run": "42"})
    run(the_dag, "send")
    [sent] = recorded.messages
    assert sent["from"] == "dagcore@example.org"
    assert sent["rcpts"] == ["a@x.org", "b@x.org", "c@x.org", "d@x.org"]
    msg = parse(sent["data"])
    assert msg["Subject"] == "Daily report"
    assert msg["From"] == "dagcore@example.org"
    assert msg["To"] == "a@x.org, b@x.org"
    assert msg["CC"] == "c@x.org"
    assert msg["Bcc"] is None and b"d@x.org" not in sent["data"]
    assert msg["X-Run"] == "42"
    assert msg.get_content_type() == "multipart/mixed"
    html, attachment = list(msg.iter_parts())
    assert html.get_content_type() == "text/html"
    assert html.get_content() == "<h1>Hello</h1><p>é</p>"
    assert attachment.get_filename() == "report.csv"
    assert attachment.get_content() == b"a,b\n1,2\n"
    assert recorded.auth == []


def test_templated_fields_rendered_in_dag_test(
        smtp_server: tuple[int, Recorded], tmp_path: Path) -> None:
    _, recorded = smtp_server
    (tmp_path / "body.html").write_text("<p>run {{ run_id }} for {{ params.who }}</p>")
    (tmp_path / "data-2024-03-05.txt").write_text("payload")
    with DAG("mail_tpl", params={"who": "ops"}, template_searchpath=str(tmp_path),
             schedule=None) as the_dag:
        EmailOperator("send", to="{{ params.who }}@x.org", subject="Report {{ ds }}",
                      html_content="body.html",
                      files=[str(tmp_path / "data-{{ ds }}.txt")], mime_subtype="related")
    result = the_dag.test(LOGICAL, run_id="manual__tpl")
    assert result.task_states == {"send": "success"}
    [sent] = recorded.messages
    assert sent["rcpts"] == ["ops@x.org"]
    msg = parse(sent["data"])
    assert msg["Subject"] == "Report 2024-03-05"
    assert msg.get_content_type() == "multipart/related"
    html, attachment = list(msg.iter_parts())
    assert html.get_content() == "<p>run manual__tpl for ops</p>"
    assert attachment.get_filename() == "data-2024-03-05.txt"
    assert attachment.get_content() == b"payload"


def test_connection_login_authenticates(smtp_server: tuple[int, Recorded],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    _, recorded = smtp_server
    monkeypatch.setenv("AIRFLOW_CONN_MY_SMTP", "smtp://mailer:s3cret@ignored:1")
    with DAG("mail_auth") as the_dag:
        EmailOperator("send", to="a@x.org", subject="s", html_content="b", conn_id="my_smtp")
        EmailOperator("undefined_conn", to="a@x.org", subject="s", html_content="b",
                      conn_id="no_such_conn")
    run(the_dag, "send")
    assert recorded.auth == ["\0mailer\0s3cret"]
    with conf_vars({("smtp", "smtp_user"): "cfg", ("smtp", "smtp_password"): "pw"}):
        run(the_dag, "undefined_conn")
    assert recorded.auth == ["\0mailer\0s3cret", "\0cfg\0pw"]
    assert len(recorded.messages) == 2


def test_missing_attachment_names_the_file(smtp_server: tuple[int, Recorded],
                                           tmp_path: Path) -> None:
    _, recorded = smtp_server
    missing = str(tmp_path / "nope.pdf")
    with DAG("mail_missing") as the_dag:
        EmailOperator("send", to="a@x.org", subject="s", html_content="b", files=[missing])
    with pytest.raises(DagcoreException, match=f"cannot attach email file '{missing}'"):
        run(the_dag, "send")
    assert recorded.messages == []


def test_no_recipients_is_an_error(smtp_server: tuple[int, Recorded]) -> None:
    _, recorded = smtp_server
    with DAG("mail_none") as the_dag:
        EmailOperator("send", to=" ; ,", cc=[], subject="s", html_content="b")
    with pytest.raises(DagcoreException, match="no email recipients: to=' ; ,'"):
        run(the_dag, "send")
    assert recorded.messages == []


def test_refused_connection_fails_the_task_naming_host_port() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The port was free a moment ago and nothing listens on it now: connecting is refused.
    with conf_vars({("smtp", "smtp_host"): "127.0.0.1", ("smtp", "smtp_port"): str(port),
                    ("smtp", "smtp_starttls"): "False"}):
        with DAG("mail_refused", schedule=None) as the_dag:
            EmailOperator("send", to="a@x.org", subject="s", html_content="b", retries=0)
        with pytest.raises(DagcoreException, match=f"SMTP server 127.0.0.1:{port}"):
            run(the_dag, "send")
        result = the_dag.test(LOGICAL)
    assert result.task_states == {"send": "failed"}
