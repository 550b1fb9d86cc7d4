"""EmailOperator: send an HTML email over SMTP (Airflow 2's ``airflow.operators.email``).

Design note: the message is built and sent with the standard library only (``email.mime`` and
``smtplib``), the way Airflow's SMTP backend does it (docs/airflow-behaviour.md 8.12): one
``multipart/<mime_subtype>`` message with the HTML body and one part per attached file; the
envelope recipients are ``to`` + ``cc`` + ``bcc`` (``bcc`` never appears in a header). Server
settings come from the ``[smtp]`` config section (``DAGCORE__SMTP__SMTP_HOST`` ...); a
connection named by ``conn_id`` supplies the login and password when it exists.
"""

from __future__ import annotations

import logging
import os
import re
import smtplib
import ssl
from collections.abc import Iterable, Mapping, Sequence
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formatdate
from typing import Any, ClassVar

from dagcore.configuration import conf
from dagcore.connections import Connection
from dagcore.exceptions import AirflowNotFoundException, DagcoreException
from dagcore.operators.base import BaseOperator

__all__ = ["EmailOperator", "build_mime_message", "get_email_address_list", "send_email"]

log = logging.getLogger(__name__)

_SEPARATORS = re.compile(r"[,;]")


def get_email_address_list(addresses: str | Iterable[str] | None) -> list[str]:
    """The addresses of a comma/semicolon separated string or a list (blank entries dropped).

    Raises:
        TypeError: ``addresses`` is neither a string nor an iterable of strings.
    """
    if addresses is None:
        return []
    if isinstance(addresses, str):
        items: list[Any] = _SEPARATORS.split(addresses)
    elif isinstance(addresses, Iterable):
        items = list(addresses)
    else:
        raise TypeError(f"email addresses must be a string or a list of strings, "
                        f"got {addresses!r}")
    result: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"an email address must be a string, got {item!r}")
        result.extend(part.strip() for part in _SEPARATORS.split(item) if part.strip())
    return result


def build_mime_message(mail_from: str, to: str | Iterable[str], subject: str,
                       html_content: str, *, files: Iterable[str] | None = None,
                       cc: str | Iterable[str] | None = None,
                       bcc: str | Iterable[str] | None = None, mime_subtype: str = "mixed",
                       mime_charset: str = "utf-8",
                       custom_headers: Mapping[str, Any] | None = None,
                       ) -> tuple[MIMEMultipart, list[str]]:
    """The message and its envelope recipients (``to`` + ``cc`` + ``bcc``).

    Raises:
        DagcoreException: no recipient at all, or an attachment that is not a readable file
            (the message names the path).
    """
    to_list = get_email_address_list(to)
    cc_list = get_email_address_list(cc)
    bcc_list = get_email_address_list(bcc)
    recipients = to_list + cc_list + bcc_list
    if not recipients:
        raise DagcoreException(f"no email recipients: to={to!r}, cc={cc!r}, bcc={bcc!r}")
    msg = MIMEMultipart(mime_subtype)
    msg["Subject"] = subject
    msg["From"] = mail_from
    if to_list:
        msg["To"] = ", ".join(to_list)
    if cc_list:
        msg["CC"] = ", ".join(cc_list)
    msg["Date"] = formatdate(localtime=True)
    for name, value in (custom_headers or {}).items():
        msg[name] = str(value)
    msg.attach(MIMEText(html_content, "html", mime_charset))
    for path in files or ():
        name = os.path.basename(path)
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise DagcoreException(f"cannot attach email file {path!r}: "
                                   f"{exc.strerror or exc}") from exc
        part = MIMEApplication(data, Name=name)
        part["Content-Disposition"] = f'attachment; filename="{name}"'
        part["Content-ID"] = f"<{name}>"
        msg.attach(part)
    return msg, recipients


def _credentials(conn_id: str | None) -> tuple[str | None, str | None]:
    user = conf.get("smtp", "smtp_user", fallback=None) or None
    password = conf.get("smtp", "smtp_password", fallback=None) or None
    if conn_id is not None:
        try:
            connection = Connection.get(conn_id)
        except AirflowNotFoundException:
            log.debug("SMTP connection %r is not defined; using [smtp] settings", conn_id)
        else:
            user, password = connection.login, connection.password
    return user, password


def send_email(to: str | Iterable[str], subject: str, html_content: str, *,
               files: Iterable[str] | None = None, cc: str | Iterable[str] | None = None,
               bcc: str | Iterable[str] | None = None, mime_subtype: str = "mixed",
               mime_charset: str = "utf-8", conn_id: str | None = None,
               from_email: str | None = None, custom_headers: Mapping[str, Any] | None = None,
               **kwargs: Any) -> None:
    """Send an HTML email over SMTP with the ``[smtp]`` settings (Airflow's ``send_email``).

    A disconnect while connecting is retried up to ``smtp_retry_limit`` times.

    Raises:
        DagcoreException: no recipient, a missing attachment, or the server cannot be reached
            (the message names ``host:port``).
        smtplib.SMTPException: the server refused the login, sender or recipients.
    """
    host = conf.get("smtp", "smtp_host")
    port = conf.getint("smtp", "smtp_port")
    starttls = conf.getboolean("smtp", "smtp_starttls")
    use_ssl = conf.getboolean("smtp", "smtp_ssl")
    timeout = conf.getint("smtp", "smtp_timeout")
    retry_limit = max(1, conf.getint("smtp", "smtp_retry_limit"))
    mail_from = from_email or conf.get("smtp", "smtp_mail_from")
    msg, recipients = build_mime_message(
        mail_from, to, subject, html_content, files=files, cc=cc, bcc=bcc,
        mime_subtype=mime_subtype, mime_charset=mime_charset, custom_headers=custom_headers)
    user, password = _credentials(conn_id)
    for attempt in range(1, retry_limit + 1):
        try:
            if use_ssl:
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    host, port, timeout=timeout, context=ssl.create_default_context())
            else:
                client = smtplib.SMTP(host, port, timeout=timeout)
        except smtplib.SMTPServerDisconnected as exc:
            if attempt == retry_limit:
                raise DagcoreException(f"SMTP server {host}:{port} disconnected "
                                       f"({retry_limit} attempts): {exc}") from exc
            continue
        except OSError as exc:
            raise DagcoreException(f"cannot connect to SMTP server {host}:{port}: "
                                   f"{exc}") from exc
        with client:
            if starttls:
                client.starttls(context=ssl.create_default_context())
            if user and password:
                client.login(user, password)
            else:
                log.debug("No user/password for SMTP: sending without authentication")
            client.sendmail(mail_from, recipients, msg.as_string())
        log.info("Sent an email to %s", recipients)
        return


class EmailOperator(BaseOperator):
    """Send an email (Airflow's ``EmailOperator``).

    Args:
        task_id: the task id.
        to: the recipients, a list or a comma/semicolon separated string (templated).
        subject: the subject line (templated).
        html_content: the HTML body (templated; a path ending in ``.html`` is a template file).
        files: paths of files to attach (templated).
        cc: recipients added in the CC header.
        bcc: recipients not shown in any header.
        mime_subtype: the ``multipart`` subtype.
        mime_charset: the charset of the HTML part.
        conn_id: a connection whose login and password authenticate to the SMTP server.
        custom_headers: additional headers of the message.
        **kwargs: :class:`~dagcore.operators.base.BaseOperator` arguments.

    Raises (from execute): see :func:`send_email`.
    """

    template_fields: ClassVar[Sequence[str]] = ("to", "subject", "html_content", "files")
    template_fields_renderers = {"html_content": "html"}
    template_ext = (".html",)
    ui_color = "#e6faf9"

    def __init__(self, task_id: str, *, to: list[str] | str, subject: str,
                 html_content: str, files: list[str] | None = None,
                 cc: list[str] | str | None = None, bcc: list[str] | str | None = None,
                 mime_subtype: str = "mixed", mime_charset: str = "utf-8",
                 conn_id: str | None = None, custom_headers: dict[str, Any] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(task_id, **kwargs)
        self.to = to
        self.subject = subject
        self.html_content = html_content
        self.files = files or []
        self.cc = cc
        self.bcc = bcc
        self.mime_subtype = mime_subtype
        self.mime_charset = mime_charset
        self.conn_id = conn_id
        self.custom_headers = custom_headers

    def execute(self, context: dict[str, Any]) -> None:
        send_email(self.to, self.subject, self.html_content, files=self.files, cc=self.cc,
                   bcc=self.bcc, mime_subtype=self.mime_subtype, mime_charset=self.mime_charset,
                   conn_id=self.conn_id, custom_headers=self.custom_headers)
