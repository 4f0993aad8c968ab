"""The SMTP adapter against a real aiosmtpd server on loopback with STARTTLS (a
self-signed certificate made for the test) and AUTH: UTF-8 MIME in the borrower's language,
the Message-ID from the message id, every refusal mapped, TLS never skipped, a silent
server answered as transient within the timeout, no failure naming the address or text."""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from forbear.channels.base import OutgoingMessage, PermanentFailure, TransientFailure
from forbear.channels.smtp import SmtpAdapter
from forbear.domain.errors import ConfigurationError
from integration.channels.standins import clean_of

Permanent, Transient = PermanentFailure, TransientFailure
USER, PASSWORD = "collections@lender.example", "mail-password-for-tests"
BODY = "王小明您好：\n\n您的账单已逾期3天，应还金额1234.56元，请尽快还款。\n\n某某消费金融"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1: (cert, key) files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(IPv4Address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@dataclass
class Mailbox:
    """What the test server received, and the recipients it refuses."""

    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # recipient -> RCPT reply
    refuse_data: dict[str, str] = field(default_factory=dict)  # recipient -> DATA reply

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        for rcpt in envelope.rcpt_tos:
            if rcpt in self.refuse_data:
                return self.refuse_data[rcpt]
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted"


def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_server(certificate: tuple[Path, Path]) -> Iterator[tuple[Controller, Mailbox]]:
    """aiosmtpd with STARTTLS required and AUTH required (over TLS only)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    mailbox = Mailbox()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=context,
        require_starttls=True,
        authenticator=authenticate,
        auth_required=True,
        auth_require_tls=True,
        auth_exclude_mechanism=["LOGIN"],  # PLAIN only: one attempt, one answer
    )
    controller.start()
    try:
        yield controller, mailbox
    finally:
        controller.stop()


def message(
    message_id: str = "msg-0001", to: str = "王小明 <xiaoming@example.cn>", **extra: Any
) -> OutgoingMessage:
    fields: dict[str, Any] = {"channel": "email", "to": to, "body": BODY, "lang": "zh"}
    fields.update(extra)
    return OutgoingMessage(message_id=message_id, **fields)


def adapter(
    port: int, ca_file: Path | None, *, secret: str = PASSWORD, **options: Any
) -> SmtpAdapter:
    base: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "username": USER,
        "from_address": USER,
        "from_name": "某某消费金融",
        "timeout": 5,
    }
    if ca_file is not None:
        base["ca_file"] = str(ca_file)
    base.update(options)
    return SmtpAdapter.from_options(
        "lender-mail", base, data_dir=Path("/nonexistent"), secrets={"lender-mail": secret}
    )


def test_mail_goes_over_starttls_with_auth_in_utf8_with_a_stable_message_id(
    smtp_server: tuple[Controller, Mailbox], certificate: tuple[Path, Path]
) -> None:
    controller, mailbox = smtp_server
    mail = adapter(controller.port, certificate[0])
    first = mail.send(message())
    mail.send(message("msg-0002", lang="en", body="Dear Mr Wang, please pay.", subject=None))
    again = mail.send(message())  # a retry after a crash: the same Message-ID
    mail.close()
    assert first.provider_ref == again.provider_ref == "<msg-0001@lender.example>"
    assert len(mailbox.received) == 3
    sender, rcpts, raw = mailbox.received[0]
    assert sender == USER and rcpts == ["xiaoming@example.cn"]
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Message-ID"] == "<msg-0001@lender.example>"
    assert str(parsed["Subject"]) == "还款提醒"
    assert parsed["Content-Language"] == "zh-CN"
    assert parsed.get_content_type() == "text/plain"
    assert parsed.get_content_charset() == "utf-8"
    assert parsed.get_content().replace("\r\n", "\n").strip() == BODY  # CRLF on the wire
    assert parsed["To"].addresses[0].display_name == "王小明"
    assert parsed["From"].addresses[0].display_name == "某某消费金融"
    assert raw.isascii()  # non-ASCII travels encoded (RFC 2047 headers, base64 body)
    english_mail = email.message_from_bytes(mailbox.received[1][2], policy=email.policy.default)
    assert str(english_mail["Subject"]) == "Repayment reminder"
    assert english_mail["Content-Language"] == "en"
    assert email.message_from_bytes(mailbox.received[2][2])["Message-ID"] == parsed["Message-ID"]


def test_a_wrong_password_is_transient_and_nothing_is_sent(
    smtp_server: tuple[Controller, Mailbox], certificate: tuple[Path, Path]
) -> None:
    controller, mailbox = smtp_server
    mail = adapter(controller.port, certificate[0], secret="wrong")
    with pytest.raises(TransientFailure) as refused:
        mail.send(message())
    mail.close()
    assert refused.value.code is not None and refused.value.code.startswith("535")
    assert mailbox.received == []
    clean_of(refused.value, message())


@pytest.mark.parametrize(
    ("rcpt_reply", "data_reply", "kind", "code", "address_invalid"),
    [
        (
            "550 5.1.1 <xiaoming@example.cn>: user unknown",
            None,
            PermanentFailure,
            "550 5.1.1",
            True,
        ),
        ("553 mailbox name not allowed", None, PermanentFailure, "553", True),
        (
            "450 4.2.1 <xiaoming@example.cn> mailbox busy",
            None,
            TransientFailure,
            "450 4.2.1",
            False,
        ),
        (
            None,
            "554 5.7.1 content refused for xiaoming@example.cn",
            PermanentFailure,
            "554 5.7.1",
            False,
        ),
        (None, "550 5.1.1 bounced: xiaoming@example.cn", PermanentFailure, "550 5.1.1", True),
        (None, "451 4.3.0 try again later", TransientFailure, "451 4.3.0", False),
    ],
)
def test_refusals_are_mapped_and_name_no_address(
    smtp_server: tuple[Controller, Mailbox],
    certificate: tuple[Path, Path],
    rcpt_reply: str | None,
    data_reply: str | None,
    kind: type[Exception],
    code: str,
    address_invalid: bool,
) -> None:
    controller, mailbox = smtp_server
    if rcpt_reply:
        mailbox.refuse["xiaoming@example.cn"] = rcpt_reply
    if data_reply:
        mailbox.refuse_data["xiaoming@example.cn"] = data_reply
    mail = adapter(controller.port, certificate[0])
    with pytest.raises(kind) as refused:
        mail.send(message())
    # The session survives a refusal: the next message goes on it.
    mail.send(message("msg-0002", to="other@example.cn"))
    mail.close()
    failure = refused.value
    assert getattr(failure, "code", None) == code
    if isinstance(failure, PermanentFailure):
        assert failure.address_invalid == address_invalid
    clean_of(failure, message())  # type: ignore[arg-type]
    assert [rcpts for _, rcpts, _ in mailbox.received] == [["other@example.cn"]]


def test_an_untrusted_certificate_is_transient_and_nothing_is_sent(
    smtp_server: tuple[Controller, Mailbox],
) -> None:
    controller, mailbox = smtp_server
    mail = adapter(controller.port, None)  # the system CAs do not know the test's cert
    with pytest.raises(TransientFailure) as refused:
        mail.send(message())
    mail.close()
    assert refused.value.code == "tls"
    assert mailbox.received == []


def test_a_server_without_starttls_gets_nothing() -> None:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        mail = adapter(controller.port, None, username=None)
        with pytest.raises(TransientFailure) as refused:
            mail.send(message())
        mail.close()
    finally:
        controller.stop()
    assert refused.value.code == "no_starttls"
    assert mailbox.received == []


def test_tls_none_only_for_a_loopback_server() -> None:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        mail = adapter(controller.port, None, username=None, tls="none")
        mail.send(message())
        mail.close()
    finally:
        controller.stop()
    assert len(mailbox.received) == 1
    with pytest.raises(ConfigurationError, match="loopback"):
        adapter(25, None, host="smtp.lender.example", tls="none")


def test_a_connection_the_server_dropped_is_opened_again(
    smtp_server: tuple[Controller, Mailbox], certificate: tuple[Path, Path]
) -> None:
    controller, mailbox = smtp_server
    mail = adapter(controller.port, certificate[0])
    mail.send(message("msg-0001"))
    assert mail._connection is not None
    mail._connection.sock.shutdown(socket.SHUT_RDWR)  # as if the server hung up while idle
    mail.send(message("msg-0002"))
    mail.close()
    assert [email.message_from_bytes(raw)["Message-ID"] for _, _, raw in mailbox.received] == [
        "<msg-0001@lender.example>",
        "<msg-0002@lender.example>",
    ]


def test_a_silent_server_is_transient_within_the_timeout() -> None:
    # Accepts the connection and never greets.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    accepted: list[socket.socket] = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True)
    thread.start()
    mail = adapter(listener.getsockname()[1], None, username=None, timeout=0.5)
    with pytest.raises(TransientFailure) as silent:
        mail.send(message())
    mail.close()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()
    assert silent.value.code == "timeout"
    clean_of(silent.value, message())


def test_an_unreachable_server_is_transient() -> None:
    mail = adapter(free_port(), None, username=None)
    with pytest.raises(TransientFailure) as unreachable:
        mail.send(message())
    mail.close()
    assert unreachable.value.code == "connection"


@pytest.mark.parametrize("to", ["not an address", "@example.cn", "xiaoming@", ""])
def test_a_malformed_address_is_permanent_and_never_reaches_a_server(to: str) -> None:
    mail = adapter(free_port(), None, username=None)
    with pytest.raises(PermanentFailure) as refused:
        mail.send(message(to=to))
    mail.close()
    assert refused.value.address_invalid and refused.value.code == "address_malformed"


@pytest.mark.parametrize(
    ("options", "wanted"),
    [
        ({"host": None}, "'host' is required"),
        ({"tls": "maybe"}, "tls must be one of"),
        ({"from_address": "nobody"}, "from_address is no address"),
        ({"port": 70000}, "'port'"),
        ({"ca_file": "/nonexistent/ca.pem"}, "ca_file"),
        ({"password": "in the file"}, "unknown option(s) password"),
    ],
)
def test_bad_options_are_refused_by_name(options: dict[str, Any], wanted: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        SmtpAdapter.from_options(
            "lender-mail",
            {"host": "smtp.lender.example", "from_address": USER, **options},
            data_dir=Path("/nonexistent"),
            secrets={},
        )
    assert wanted in str(refused.value)


def test_a_username_without_a_secret_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="no secret"):
        SmtpAdapter.from_options(
            "lender-mail",
            {"host": "smtp.lender.example", "username": USER, "from_address": USER},
            data_dir=Path("/nonexistent"),
            secrets={},
        )


def test_sending_threads_each_use_a_connection_of_their_own(
    smtp_server: tuple[Controller, Mailbox], certificate: tuple[Path, Path]
) -> None:
    controller, mailbox = smtp_server
    mail = adapter(controller.port, certificate[0])
    start = threading.Barrier(4)

    def send(n: int) -> None:
        start.wait()
        for i in range(3):
            mail.send(message(f"msg-{n}-{i}"))

    threads = [threading.Thread(target=send, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(mail._open) == 4
    mail.close()
    assert mail._open == set()
    ids = sorted(email.message_from_bytes(raw)["Message-ID"] for _, _, raw in mailbox.received)
    assert ids == sorted(f"<msg-{n}-{i}@lender.example>" for n in range(4) for i in range(3))
