"""E-mail over SMTP: STARTTLS (or implicit TLS), AUTH, UTF-8 MIME, and a ``Message-ID``
made from the outbox message id, so the same message sent twice (a retry after a crash)
carries the same id and mail systems that deduplicate by it keep one.

A channels file entry (``forbear.channels.config``)::

    providers:
      lender-mail:
        kind: smtp
        channels: [email]
        host: smtp.lender.example
        port: 587                   # default 587 (STARTTLS); 465 with tls: implicit
        tls: starttls               # starttls | implicit | none (none: loopback only)
        username: collections@lender.example   # the password: channel_secrets["lender-mail"]
        from_address: collections@lender.example
        from_name: 某某消费金融
        reply_to: service@lender.example       # optional
        ca_file: /etc/forbear/smtp-ca.pem      # optional: a private CA to trust
        subjects: {zh: 还款提醒, en: Repayment reminder}   # when a message has none
        rate_per_second: 20
        timeout: 15

TLS is required: the server's certificate is verified against the system's CAs (or
``ca_file``) and its name; a server that offers no STARTTLS gets nothing. ``tls: none`` is
refused unless the host is a loopback address (a test server on this machine).

Answers: a recipient refused with 5xx (``550 5.1.1`` no such mailbox, ...) or a 5.1.x
status at DATA is permanent with the address invalid; other 5xx at DATA (content refused)
or MAIL FROM is permanent; every 4xx, a refused login (the message is not at fault), a TLS
failure, a timeout or a dropped connection is transient. Failures carry the reply code and
enhanced status code, never the server's text (it often echoes the address).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import smtplib
import ssl
import threading
from collections.abc import Mapping
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, parseaddr
from pathlib import Path
from typing import Any

from forbear.channels import providers
from forbear.channels.base import Accepted, OutgoingMessage, PermanentFailure, TransientFailure
from forbear.domain.errors import ConfigurationError

DEFAULT_SUBJECTS = {"zh": "还款提醒", "en": "Repayment reminder"}
CONTENT_LANGUAGE = {"zh": "zh-CN", "en": "en"}
TLS_MODES = ("starttls", "implicit", "none")

_ENHANCED = re.compile(rb"^\s*([245]\.\d{1,3}\.\d{1,3})")
_ID_SAFE = re.compile(r"^[A-Za-z0-9._+=-]{1,100}$")


def message_id_header(message_id: str, domain: str) -> str:
    """``<message_id@domain>``; an id with characters a Message-ID may not hold is replaced
    by its SHA-256 (the same id always gives the same header)."""
    local = (
        message_id
        if _ID_SAFE.match(message_id)
        else hashlib.sha256(message_id.encode()).hexdigest()
    )
    return f"<{local}@{domain}>"


def _status(code: int, text: bytes | str) -> str:
    raw = text.encode("utf-8", "replace") if isinstance(text, str) else text
    enhanced = _ENHANCED.match(raw)
    return f"{code} {enhanced.group(1).decode()}" if enhanced else str(code)


class SmtpAdapter:
    """One SMTP submission account (see the module docstring). Each of the dispatcher's
    sending threads has a connection of its own, kept open between its sends and opened
    again after a failure; ``close`` ends them all."""

    kind = "smtp"

    def __init__(
        self,
        name: str,
        *,
        host: str,
        from_address: str,
        port: int = 587,
        tls: str = "starttls",
        username: str | None = None,
        password: str | None = None,
        from_name: str | None = None,
        reply_to: str | None = None,
        ca_file: str | None = None,
        subjects: Mapping[str, str] | None = None,
        rate_per_second: float | None = None,
        timeout: float = providers.DEFAULT_TIMEOUT,
    ) -> None:
        if tls not in TLS_MODES:
            raise ConfigurationError(f"channel provider {name!r}: tls must be one of {TLS_MODES}")
        if tls == "none" and not providers.is_loopback(host):
            raise ConfigurationError(
                f"channel provider {name!r}: tls: none only for a loopback test server; "
                "mail to a real server goes over STARTTLS or implicit TLS"
            )
        if (username is None) != (password is None):
            raise ConfigurationError(f"channel provider {name!r}: a username needs a password")
        self.name = name
        self.rate_per_second = rate_per_second
        self.host = host
        self.port = port
        self.tls = tls
        self.timeout = timeout
        self._username = username
        self._password = password
        self._from = Address(display_name=from_name or "", addr_spec=from_address)
        self._reply_to = reply_to
        self._domain = from_address.rpartition("@")[2]
        self._subjects = {**DEFAULT_SUBJECTS, **(subjects or {})}
        self._context = ssl.create_default_context(cafile=ca_file) if tls != "none" else None
        self._local = threading.local()  # each sending thread's own connection
        self._open: set[smtplib.SMTP] = set()  # every thread's, for close()
        self._lock = threading.Lock()

    @classmethod
    def from_options(
        cls,
        name: str,
        options: Mapping[str, Any],
        *,
        data_dir: Path,
        secrets: Mapping[str, str],
    ) -> SmtpAdapter:
        del data_dir  # nothing written locally
        read = providers.Options(
            name,
            options,
            {
                "host",
                "port",
                "tls",
                "username",
                "from_address",
                "from_name",
                "reply_to",
                "ca_file",
                "subjects",
            },
        )
        tls = read.text("tls", "starttls")
        username = read.optional_text("username")
        password = (
            providers.secret_for(name, secrets, what="the SMTP password") if username else None
        )
        from_address = read.text("from_address")
        if "@" not in from_address:
            raise ConfigurationError(f"channel provider {name!r}: from_address is no address")
        ca_file = read.optional_text("ca_file")
        if ca_file is not None and not Path(ca_file).is_file():
            raise ConfigurationError(f"channel provider {name!r}: ca_file {ca_file} not found")
        return cls(
            name,
            host=read.text("host"),
            port=read.integer("port", 465 if tls == "implicit" else 587, minimum=1, maximum=65535),
            tls=tls,
            username=username,
            password=password,
            from_address=from_address,
            from_name=read.optional_text("from_name"),
            reply_to=read.optional_text("reply_to"),
            ca_file=ca_file,
            subjects=read.mapping("subjects"),
            rate_per_second=read.rate(),
            timeout=read.timeout(),
        )

    # --- the message

    def compose(self, message: OutgoingMessage) -> EmailMessage:
        """The MIME message for ``message``: UTF-8 text, the subject in the borrower's
        language, the Message-ID from the message id."""
        name, address = parseaddr(message.to)
        if "@" not in address or address.startswith("@") or address.endswith("@"):
            raise PermanentFailure(
                "not an e-mail address", code="address_malformed", address_invalid=True
            )
        mail = EmailMessage(policy=SMTP_POLICY)
        mail["From"] = self._from
        try:
            local, _, domain = address.rpartition("@")
            mail["To"] = Address(display_name=name, username=local, domain=domain)
        except (ValueError, IndexError):
            raise PermanentFailure(
                "not an e-mail address", code="address_malformed", address_invalid=True
            ) from None
        if self._reply_to:
            mail["Reply-To"] = self._reply_to
        mail["Subject"] = message.subject or self._subjects.get(message.lang, self._subjects["zh"])
        mail["Date"] = formatdate(localtime=False, usegmt=True)
        mail["Message-ID"] = message_id_header(message.message_id, self._domain)
        mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies wanted
        mail.set_content(message.body, charset="utf-8", cte="base64")
        # After set_content, which drops every Content-* header set before it.
        mail["Content-Language"] = CONTENT_LANGUAGE.get(message.lang, message.lang)
        return mail

    # --- the connection

    @property
    def _connection(self) -> smtplib.SMTP | None:
        found: smtplib.SMTP | None = getattr(self._local, "connection", None)
        return found

    @_connection.setter
    def _connection(self, connection: smtplib.SMTP | None) -> None:
        with self._lock:
            old = getattr(self._local, "connection", None)
            if old is not None:
                self._open.discard(old)
            if connection is not None:
                self._open.add(connection)
        self._local.connection = connection

    def _connect(self) -> smtplib.SMTP:
        connection: smtplib.SMTP
        if self.tls == "implicit":
            connection = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=self._context
            )
        else:
            connection = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            connection.ehlo()
            if self.tls == "starttls":
                if not connection.has_extn("starttls"):
                    raise TransientFailure(
                        "the mail server offers no STARTTLS; nothing sent in clear",
                        code="no_starttls",
                    )
                connection.starttls(context=self._context)
                connection.ehlo()
            if self._username is not None and self._password is not None:
                connection.login(self._username, self._password)
        except BaseException:
            connection.close()
            raise
        return connection

    def _drop(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(OSError):
                self._connection.close()
            self._connection = None

    def send(self, message: OutgoingMessage) -> Accepted:
        mail = self.compose(message)
        try:
            return self._send(mail)
        except (TransientFailure, PermanentFailure):
            raise
        except smtplib.SMTPRecipientsRefused as exc:
            self._reset()
            ((code, text),) = exc.recipients.values()
            status = _status(code, text)
            if code >= 500:
                raise PermanentFailure(
                    "the mail server refused the recipient", code=status, address_invalid=True
                ) from None
            raise TransientFailure("the mail server deferred the recipient", code=status) from None
        except smtplib.SMTPSenderRefused as exc:
            self._reset()
            status = _status(exc.smtp_code, exc.smtp_error)
            if exc.smtp_code >= 500:
                raise PermanentFailure("the mail server refused the sender", code=status) from None
            raise TransientFailure("the mail server deferred the sender", code=status) from None
        except smtplib.SMTPAuthenticationError as exc:
            self._drop()
            raise TransientFailure(
                "the mail server refused the login", code=_status(exc.smtp_code, exc.smtp_error)
            ) from None
        except smtplib.SMTPResponseException as exc:  # DATA refused, and the rest
            self._reset()
            status = _status(exc.smtp_code, exc.smtp_error)
            if exc.smtp_code >= 500:
                raise PermanentFailure(
                    "the mail server refused the message",
                    code=status,
                    address_invalid=status.split(" ")[-1].startswith("5.1."),
                ) from None
            raise TransientFailure("the mail server deferred the message", code=status) from None
        except smtplib.SMTPNotSupportedError:
            self._reset()
            raise PermanentFailure(
                "the mail server cannot take this address (no SMTPUTF8)", code="smtputf8"
            ) from None
        except ssl.SSLError:
            self._drop()
            raise TransientFailure("TLS with the mail server failed", code="tls") from None
        except TimeoutError:
            self._drop()
            raise TransientFailure(
                "the mail server did not answer in time", code="timeout"
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            if isinstance(exc.__context__, TimeoutError):  # smtplib wraps read timeouts
                raise TransientFailure(
                    "the mail server did not answer in time", code="timeout"
                ) from None
            raise TransientFailure(
                "the mail server could not be reached", code="connection"
            ) from None

    def _send(self, mail: EmailMessage) -> Accepted:
        reused = self._connection is not None
        if self._connection is None:
            self._connection = self._connect()
        try:
            self._connection.send_message(mail)
        except smtplib.SMTPServerDisconnected:
            # An idle connection the server closed: the first command failed, nothing was
            # taken; once more on a fresh connection.
            self._drop()
            if not reused:
                raise
            self._connection = self._connect()
            self._connection.send_message(mail)
        return Accepted(provider=self.name, provider_ref=str(mail["Message-ID"]))

    def _reset(self) -> None:
        """After a refusal the session is mid-transaction: RSET, or drop it."""
        if self._connection is None:
            return
        try:
            self._connection.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    def flush(self) -> None:
        return None

    def close(self) -> None:
        with self._lock:
            connections, self._open = list(self._open), set()
        for connection in connections:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                connection.quit()
            with contextlib.suppress(OSError):
                connection.close()
        self._local = threading.local()
