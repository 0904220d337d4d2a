"""The mail transports against a real SMTP server (aiosmtpd on loopback).

Every server here records the commands it received, per connection and
whether they came inside TLS, so the tests can prove what was *not* sent.
"""

from __future__ import annotations

import email
import itertools
import socket
import ssl
from email.message import EmailMessage

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult

from portal.mail.transport import (
    DeliveryError,
    FileTransport,
    PermanentFailure,
    SMTPTransport,
    TemporaryFailure,
    transport_from_config,
)

PASSWORD = "s3cret-Pa55"
BODY_SECRET = "manage-token-abc123"


class Recorder:
    """aiosmtpd handler: keeps what arrived and answers RCPT/DATA as told."""

    def __init__(self) -> None:
        self.connections = itertools.count()
        self.commands: list[tuple[int, str, bool]] = []  # (connection, command, inside TLS)
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.rcpt_replies: dict[str, str] = {}  # address -> reply instead of 250
        self.data_reply: str | None = None
        self.logins: list[tuple[bytes, bytes]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.rcpt_replies:
            return self.rcpt_replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        if self.data_reply:
            return self.data_reply
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        self.logins.append((auth_data.login, auth_data.password))
        if auth_data.login == b"user" and auth_data.password == PASSWORD.encode():
            return AuthResult(success=True)
        # A careless server that repeats what it was given.
        return AuthResult(
            success=False,
            handled=False,
            message=f"535 5.7.8 bad credentials {auth_data.password.decode()}",
        )

    def seen(self, command: str) -> list[tuple[int, str, bool]]:
        return [entry for entry in self.commands if entry[1] == command]

    def sessions(self) -> set[int]:
        """Connections that said EHLO or HELO (Controller's own start-up probe says nothing)."""
        return {number for number, command, _ in self.commands if command in {"EHLO", "HELO"}}


class RecordingSMTP(SMTP):
    def __init__(self, handler: Recorder, **kwargs) -> None:
        super().__init__(handler, **kwargs)
        self.number = next(handler.connections)


def _recording(command: str):
    original = getattr(SMTP, f"smtp_{command}")

    async def method(self, arg):
        inside_tls = self._tls_protocol is not None or self.transport.get_extra_info("sslcontext")
        self.event_handler.commands.append((self.number, command, bool(inside_tls)))
        await original(self, arg)

    return method


for _command in ("EHLO", "HELO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA", "RSET", "QUIT"):
    setattr(RecordingSMTP, f"smtp_{_command}", _recording(_command))


class RecordingController(Controller):
    def factory(self):
        return RecordingSMTP(self.handler, **self.SMTP_kwargs)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_tls(ca) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture(scope="module")
def client_tls(ca) -> ssl.SSLContext:
    """What the portal would use if the server's CA were in the trust store."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@pytest.fixture
def smtp_server():
    """``start(**controller_kwargs) -> (recorder, port)``; every server stops afterwards."""
    controllers: list[Controller] = []

    def start(**kwargs) -> tuple[Recorder, int]:
        recorder = Recorder()
        if kwargs.pop("authenticate", False):
            kwargs["authenticator"] = recorder.authenticate
        controller = RecordingController(recorder, hostname="127.0.0.1", port=free_port(), **kwargs)
        controller.start()
        controllers.append(controller)
        return recorder, controller.port

    yield start
    for controller in controllers:
        controller.stop()


def make_message(to: str = "mia@example.com", subject: str = "Booking confirmed") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Salon Test <bookings@salon.example>"
    message["To"] = to
    message["Subject"] = subject
    message.set_content(f"Manage your booking: https://portal.example/m/{BODY_SECRET}\n")
    return message


def assert_discreet(error: DeliveryError) -> None:
    text = str(error)
    assert PASSWORD not in text
    assert BODY_SECRET not in text
    assert "\n" not in text


# -- STARTTLS is required on smtp:// ------------------------------------------------------


def test_a_server_without_starttls_gets_no_login_and_no_message(smtp_server, client_tls):
    # The server would even take a cleartext AUTH: the dangerous case.
    recorder, port = smtp_server(authenticate=True, auth_require_tls=False)
    transport = SMTPTransport(f"smtp://user:{PASSWORD}@127.0.0.1:{port}", ssl_context=client_tls)

    with pytest.raises(TemporaryFailure) as caught:
        transport.send(make_message())

    assert "does not offer STARTTLS" in str(caught.value)
    assert caught.value.connection_failed
    assert_discreet(caught.value)
    assert [command for _, command, _ in recorder.commands] == ["EHLO"]
    assert recorder.logins == []
    assert recorder.messages == []


def test_starttls_then_login_then_the_message_all_inside_tls(smtp_server, server_tls, client_tls):
    recorder, port = smtp_server(
        tls_context=server_tls, require_starttls=True, authenticate=True, auth_required=True
    )
    transport = SMTPTransport(f"smtp://user:{PASSWORD}@127.0.0.1:{port}", ssl_context=client_tls)

    transport.send(make_message())

    [(sender, recipients, raw)] = recorder.messages
    assert sender == "bookings@salon.example"  # the envelope sender is From's address
    assert recipients == ["mia@example.com"]
    assert email.message_from_bytes(raw)["Subject"] == "Booking confirmed"
    assert recorder.logins == [(b"user", PASSWORD.encode())]
    commands = [(command, tls) for _, command, tls in recorder.commands]
    assert commands[:2] == [("EHLO", False), ("STARTTLS", False)]
    assert all(tls for command, tls in commands[2:])
    assert [command for command, _ in commands[2:]] == [
        "EHLO",
        "AUTH",
        "MAIL",
        "RCPT",
        "DATA",
        "QUIT",
    ]


def test_starttls_with_a_certificate_the_client_does_not_trust(smtp_server, server_tls):
    recorder, port = smtp_server(tls_context=server_tls, require_starttls=True, authenticate=True)
    # The default context: the system's trust store, which knows nothing of the test CA.
    transport = SMTPTransport(f"smtp://user:{PASSWORD}@127.0.0.1:{port}")

    with pytest.raises(TemporaryFailure) as caught:
        transport.send(make_message())

    assert "certificate" in str(caught.value)
    assert_discreet(caught.value)
    assert recorder.logins == []
    assert recorder.seen("MAIL") == []


def test_a_wrong_password_is_temporary_and_not_repeated(smtp_server, server_tls, client_tls):
    # Temporary by decision: the operator fixes the password, the queued mail survives.
    recorder, port = smtp_server(tls_context=server_tls, require_starttls=True, authenticate=True)
    wrong = PASSWORD + "-wrong"  # the server repeats it in its reply
    transport = SMTPTransport(f"smtp://user:{wrong}@127.0.0.1:{port}", ssl_context=client_tls)

    with pytest.raises(TemporaryFailure) as caught:
        transport.send(make_message())

    assert "535" in str(caught.value)
    assert caught.value.smtp_code == 535
    assert caught.value.connection_failed
    assert wrong not in str(caught.value)
    assert recorder.seen("MAIL") == []


def test_starttls_no_sends_in_plain_text_to_a_local_relay(smtp_server):
    recorder, port = smtp_server()
    transport = SMTPTransport(f"smtp://127.0.0.1:{port}?starttls=no")

    transport.send(make_message())

    assert len(recorder.messages) == 1
    assert recorder.seen("STARTTLS") == []
    assert not any(tls for _, _, tls in recorder.commands)


# -- smtps:// verifies the certificate ----------------------------------------------------


def test_smtps_with_a_trusted_certificate_delivers(smtp_server, server_tls, client_tls):
    recorder, port = smtp_server(ssl_context=server_tls)
    transport = SMTPTransport(f"smtps://127.0.0.1:{port}", ssl_context=client_tls)

    transport.send(make_message())

    assert len(recorder.messages) == 1
    assert all(tls for _, _, tls in recorder.commands)


def test_smtps_with_an_untrusted_certificate_sends_nothing(smtp_server, server_tls):
    recorder, port = smtp_server(ssl_context=server_tls)
    other_ca = trustme.CA()
    context = ssl.create_default_context()
    other_ca.configure_trust(context)
    transport = SMTPTransport(f"smtps://127.0.0.1:{port}", ssl_context=context)

    with pytest.raises(TemporaryFailure) as caught:
        transport.send(make_message())

    assert "certificate" in str(caught.value)
    assert caught.value.connection_failed
    assert recorder.commands == []


def test_smtps_checks_the_host_name_too(smtp_server, ca, client_tls):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("mail.elsewhere.example").configure_cert(context)  # trusted CA, wrong name
    recorder, port = smtp_server(ssl_context=context)
    transport = SMTPTransport(f"smtps://127.0.0.1:{port}", ssl_context=client_tls)

    with pytest.raises(TemporaryFailure) as caught:
        transport.send(make_message())

    assert "certificate" in str(caught.value)
    assert recorder.commands == []


# -- replies: 5xx is permanent, 4xx is temporary ------------------------------------------


def test_a_5xx_reply_is_a_permanent_failure(smtp_server):
    recorder, port = smtp_server()
    recorder.rcpt_replies["nobody@example.com"] = "550 no such user"
    transport = SMTPTransport(f"smtp://127.0.0.1:{port}?starttls=no")

    with pytest.raises(PermanentFailure) as caught:
        transport.send(make_message(to="nobody@example.com"))

    assert "550 no such user" in str(caught.value)
    assert caught.value.smtp_code == 550
    assert not caught.value.connection_failed
    assert_discreet(caught.value)
    assert recorder.messages == []


def test_a_4xx_reply_is_a_temporary_failure(smtp_server):
    recorder, port = smtp_server()
    recorder.data_reply = "451 try later"
    transport = SMTPTransport(f"smtp://127.0.0.1:{port}?starttls=no")

    with pytest.raises(TemporaryFailure) as caught:
        transport.send(make_message())

    assert "451 try later" in str(caught.value)
    assert caught.value.smtp_code == 451
    assert_discreet(caught.value)


@pytest.mark.parametrize(
    ("replies", "expected"),
    [
        (["550 no such user", "553 bad mailbox"], PermanentFailure),
        (["550 no such user", "451 greylisted"], TemporaryFailure),
    ],
)
def test_refused_recipients_are_permanent_only_if_all_are(smtp_server, replies, expected):
    recorder, port = smtp_server()
    recorder.rcpt_replies = {"a@example.com": replies[0], "b@example.com": replies[1]}
    transport = SMTPTransport(f"smtp://127.0.0.1:{port}?starttls=no")

    with pytest.raises(DeliveryError) as caught:
        transport.send(make_message(to="a@example.com, b@example.com"))

    assert type(caught.value) is expected
    assert all(reply in str(caught.value) for reply in replies)


def test_a_closed_port_is_a_temporary_failure():
    port = free_port()  # nothing listens there
    transport = SMTPTransport(f"smtp://127.0.0.1:{port}")

    with pytest.raises(TemporaryFailure) as caught:
        transport.send(make_message())

    assert "connection refused" in str(caught.value)
    assert caught.value.connection_failed


def test_a_server_that_never_answers_times_out():
    # The kernel accepts the connection; nobody ever says 220.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        transport = SMTPTransport(f"smtp://127.0.0.1:{port}", timeout=0.2)

        with pytest.raises(TemporaryFailure) as caught:
            transport.send(make_message())

    assert "did not answer within 0.2 s" in str(caught.value)


# -- one connection for a batch -----------------------------------------------------------


def test_a_batch_goes_over_one_connection(smtp_server, server_tls, client_tls):
    recorder, port = smtp_server(tls_context=server_tls, require_starttls=True)
    transport = SMTPTransport(f"smtp://127.0.0.1:{port}", ssl_context=client_tls)

    with transport.connect() as connection:
        for number in range(3):
            connection.send(make_message(subject=f"Message {number}"))

    subjects = [email.message_from_bytes(raw)["Subject"] for _, _, raw in recorder.messages]
    assert subjects == ["Message 0", "Message 1", "Message 2"]
    assert len(recorder.sessions()) == 1
    assert len(recorder.seen("STARTTLS")) == 1
    assert len(recorder.seen("QUIT")) == 1


def test_after_a_failure_the_next_message_goes_over_a_new_connection(smtp_server):
    recorder, port = smtp_server()
    recorder.rcpt_replies["busy@example.com"] = "452 mailbox busy"
    transport = SMTPTransport(f"smtp://127.0.0.1:{port}?starttls=no")

    with transport.connect() as connection:
        connection.send(make_message(subject="first"))
        with pytest.raises(TemporaryFailure):
            connection.send(make_message(to="busy@example.com", subject="refused"))
        connection.send(make_message(subject="third"))

    subjects = [email.message_from_bytes(raw)["Subject"] for _, _, raw in recorder.messages]
    assert subjects == ["first", "third"]
    assert len(recorder.sessions()) == 2


def test_a_connection_that_could_not_open_tries_again_on_the_next_send(smtp_server):
    port = free_port()
    transport = SMTPTransport(f"smtp://127.0.0.1:{port}?starttls=no")

    with transport.connect() as connection:
        with pytest.raises(TemporaryFailure):
            connection.send(make_message())
        # The server comes up on that port; the same connection object now delivers.
        recorder = Recorder()
        controller = RecordingController(recorder, hostname="127.0.0.1", port=port)
        controller.start()
        try:
            connection.send(make_message())
        finally:
            connection.close()
            controller.stop()

    assert len(recorder.messages) == 1


def test_a_closed_connection_refuses_to_send(smtp_server):
    _, port = smtp_server()
    transport = SMTPTransport(f"smtp://127.0.0.1:{port}?starttls=no")
    with transport.connect() as connection:
        pass
    with pytest.raises(RuntimeError):
        connection.send(make_message())


# -- the URL ------------------------------------------------------------------------------


def test_the_url_sets_port_security_and_login():
    plain = SMTPTransport("smtp://relay.example?starttls=no")
    submission = SMTPTransport("smtp://me%40example.com:p%2Fw%3Fd@mail.example:587")
    implicit = SMTPTransport("smtps://mail.example")

    assert (plain.port, plain.starttls, plain.implicit_tls) == (25, False, False)
    assert (submission.port, submission.starttls) == (587, True)
    assert submission.username == "me@example.com"
    assert submission._password == "p/w?d"
    assert (implicit.port, implicit.implicit_tls, implicit.starttls) == (465, True, False)
    assert "p/w?d" not in repr(submission)
    assert SMTPTransport("smtp://mail.example?starttls=yes").starttls


@pytest.mark.parametrize(
    ("url", "words"),
    [
        (f"smtp://user:{PASSWORD}@mail.example?tls=off", "unknown parameter(s) tls"),
        (f"smtp://user:{PASSWORD}@mail.example?starttls=off", "starttls must be"),
        (f"smtp://user:{PASSWORD}@mail.example?starttls=no&starttls=no", "starttls must be"),
        (f"smtps://user:{PASSWORD}@mail.example?starttls=no", "only to smtp://"),
        (f"smtp://user:{PASSWORD}@mail.example?starttls", "malformed query"),
        (f"smtp://user:{PASSWORD}@mail.example:port", "must look like"),
        (f"http://user:{PASSWORD}@mail.example", "must look like"),
        (f"smtp://user:{PASSWORD}@mail.example/path", "must look like"),
        ("smtp://", "must look like"),
    ],
)
def test_a_bad_url_is_refused_without_repeating_the_password(url, words):
    with pytest.raises(ValueError) as caught:
        SMTPTransport(url)
    assert words in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_transport_from_config(tmp_path):
    smtp = transport_from_config({"SMTP_URL": "smtps://mail.example", "OUTBOX_PATH": tmp_path})
    files = transport_from_config({"SMTP_URL": "", "OUTBOX_PATH": tmp_path})
    assert isinstance(smtp, SMTPTransport)
    assert isinstance(files, FileTransport)


# -- files --------------------------------------------------------------------------------


def test_file_transport_writes_one_eml_per_message_in_order(tmp_path):
    transport = FileTransport(tmp_path / "outbox")

    with transport.connect() as connection:
        connection.send(make_message(subject="one"))
        connection.send(make_message(subject="two"))
    transport.send(make_message(subject="three"))

    files = sorted((tmp_path / "outbox").iterdir())
    assert all(path.suffix == ".eml" for path in files)
    subjects = [email.message_from_bytes(path.read_bytes())["Subject"] for path in files]
    assert subjects == ["one", "two", "three"]


def test_file_transport_that_cannot_write_is_a_temporary_failure(tmp_path):
    blocker = tmp_path / "outbox"
    blocker.write_text("a file where the folder should be")

    with pytest.raises(TemporaryFailure) as caught:
        FileTransport(blocker).send(make_message())

    assert "could not write the message" in str(caught.value)
    assert_discreet(caught.value)
