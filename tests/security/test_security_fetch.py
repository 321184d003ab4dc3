"""SSRF: every way of pointing a source at an internal address is refused with the same
reason and message, before a single byte reaches the stand-in metadata service."""

from __future__ import annotations

import socket

import pytest
from security_standins import Recorder

from vystra.errors import SourceError, SourceForbidden
from vystra.fetch import fetch
from vystra.settings import Settings
from vystra.urlguard import FORBIDDEN_MESSAGE

# {port}: the stand-in metadata service on 127.0.0.1
LOOPBACK_FORMS = [
    "http://127.0.0.1:{port}/latest/meta-data/iam/security-credentials/",
    "https://127.0.0.1:{port}/",
    "http://localhost:{port}/",
    "http://LocalHost:{port}/",  # names are case-insensitive
    "http://127.1:{port}/",
    "http://127.0.0.2:{port}/",
    "http://2130706433:{port}/",  # decimal
    "http://0x7f.1:{port}/",  # hex
    "http://0x7f000001:{port}/",
    "http://017700000001:{port}/",  # octal
    "http://0177.0.0.1:{port}/",
    "http://0.0.0.0:{port}/",  # unspecified: Linux connects it to the local host
    "http://0:{port}/",
    "http://[::1]:{port}/",
    "http://[::ffff:127.0.0.1]:{port}/",  # IPv4-mapped IPv6
    "http://[::ffff:7f00:1]:{port}/",
    "http://[0:0:0:0:0:ffff:127.0.0.1]:{port}/",
    "http://[::127.0.0.1]:{port}/",  # IPv4-compatible IPv6
    "http://[2002:7f00:1::]:{port}/",  # 6to4 of 127.0.0.1
    "http://[64:ff9b::7f00:1]:{port}/",  # NAT64 of 127.0.0.1
    "http://[::]:{port}/",
    "http://user:pass@127.0.0.1:{port}/",
    "http://media.example.org@127.0.0.1:{port}/",
    "http://127.0.0.1:{port}#@media.example.org/",
]
OTHER_INTERNAL = [
    "http://169.254.169.254/latest/meta-data/",  # AWS, GCP, Azure, OpenStack metadata
    "http://[fd00:ec2::254]/latest/meta-data/",  # AWS metadata over IPv6
    "http://100.100.100.200/latest/meta-data/",  # Alibaba metadata (CGNAT range)
    "http://168.63.129.16/machine",  # Azure wireserver
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
    "http://198.18.0.1/",
    "http://224.0.0.1/",
    "http://240.0.0.1/",
    "http://255.255.255.255/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://[ff02::1]/",
    "http://[2001:db8::1]/",
    "http://[2001::1]/",  # Teredo
    "http://[::ffff:169.254.169.254]/",
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of the metadata address
]


def loopback_names() -> list[str]:
    """Names this machine resolves to loopback without DNS (there is no internet here)."""
    names = []
    for name in ("localhost", "ip6-localhost", "ip6-loopback", socket.gethostname()):
        try:
            addresses = {info[4][0] for info in socket.getaddrinfo(name, 80)}
        except OSError:
            continue
        if addresses and all(a.startswith(("127.", "::1")) for a in addresses):
            names.append(name)
    assert "localhost" in names
    return names


def attacks(port: int) -> list[str]:
    named = [f"http://{name}:{port}/" for name in loopback_names()]
    return [u.format(port=port) for u in LOOPBACK_FORMS] + named + OTHER_INTERNAL


def refused(url: str, settings: Settings) -> SourceForbidden:
    with pytest.raises(SourceForbidden) as caught, fetch(url, settings):
        pass
    assert caught.value.reason == "SourceForbidden"
    return caught.value


def test_the_stand_in_answers_when_allowed(metadata: Recorder, settings: Settings) -> None:
    """Against the test's own mistakes: allowed by configuration, the stand-in is reached."""
    allowed = settings.model_copy(update={"fetch_allow": "127.0.0.0/8"})
    with fetch(f"http://127.0.0.1:{metadata.port}/latest/", allowed) as media:
        assert b"ASIA-STAND-IN" in media.path.read_bytes()
    assert metadata.requests == ["/latest/"]


def test_internal_addresses_are_refused_by_the_fetcher(
    metadata: Recorder, guarded: Settings
) -> None:
    tried = attacks(metadata.port)
    for url in tried:
        error = refused(url, guarded)
        assert str(error) == FORBIDDEN_MESSAGE.format(url=url), url
    assert metadata.requests == []
    assert len(tried) >= 40


def test_redirects_to_internal_addresses_are_refused(
    metadata: Recorder, redirector: Recorder, settings: Settings
) -> None:
    """The redirector's host is allowed by name; where it sends the fetcher is checked again."""
    only_it = settings.model_copy(update={"fetch_allow": "localhost"})
    start = f"http://localhost:{redirector.port}/to?u="
    targets = [u.format(port=metadata.port) for u in LOOPBACK_FORMS if "localhost" not in u.lower()]
    targets += ["file:///etc/passwd", "s3://bucket/secret", f"gopher://127.0.0.1:{metadata.port}/"]
    for target in targets:
        url = start + target
        error = refused(url, only_it)
        assert str(error) == FORBIDDEN_MESSAGE.format(url=url)  # the user's URL, not the target
    assert metadata.requests == []
    assert len(redirector.requests) == len(targets)
    # an allowed redirect is followed, and a fourth redirect is one too many
    with fetch(f"{start}/ok", only_it) as media:
        assert media.path.read_bytes() == b"ok"
    with (
        pytest.raises(SourceError, match="redirected more than 3 times"),
        fetch(f"http://localhost:{redirector.port}/loop", only_it),
    ):
        pass


def test_refusals_do_not_tell_open_ports_from_closed(metadata: Recorder, guarded: Settings) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    messages = {
        str(refused(f"http://127.0.0.1:{port}/", guarded)).replace(str(port), "PORT")
        for port in (metadata.port, closed)
    }
    assert len(messages) == 1


def test_no_proxy_from_the_environment(
    metadata: Recorder, redirector: Recorder, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy variable pointing at an internal host is not used to reach an allowed one."""
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{metadata.port}")
    only_it = settings.model_copy(update={"fetch_allow": "localhost"})
    with fetch(f"http://localhost:{redirector.port}/ok", only_it) as media:
        assert media.path.read_bytes() == b"ok"
    assert metadata.requests == []


def test_drip_feed_fails_at_the_deadline(drip: Recorder, settings: Settings) -> None:
    """A server sending a byte a second (in the body, or in its headers) is cut off at the
    deadline: far fewer bytes than it promised, although it never stays silent long enough
    for a read timeout."""
    slow = settings.model_copy(update={"fetch_deadline_seconds": 2.0, "http_timeout_seconds": 30})
    for path in ("/body", "/headers"):
        drip.sent = 0
        with (
            pytest.raises(SourceError, match="took longer than 2 s"),
            fetch(f"http://127.0.0.1:{drip.port}{path}", slow),
        ):
            pass
        assert drip.sent < 10, path


def test_byte_limit_holds_for_declared_and_undeclared_sizes(
    redirector: Recorder, settings: Settings
) -> None:
    small = settings.model_copy(update={"max_download_bytes": 1000})
    base = f"http://127.0.0.1:{redirector.port}"
    with fetch(f"{base}/ok", small) as media:
        assert media.size == 2
    for path, message in (
        ("/undeclared", "larger than the 1000 byte limit"),
        ("/ok", "over the 1 byte limit"),
    ):
        limit = (
            small if path == "/undeclared" else small.model_copy(update={"max_download_bytes": 1})
        )
        with pytest.raises(SourceError, match=message), fetch(f"{base}{path}", limit):
            pass
