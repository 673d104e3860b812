"""Real Redis set-ups for tests, started from ``redis-server`` on free loopback ports: cluster, Sentinel and TLS."""

from __future__ import annotations

import datetime
import functools
import ipaddress
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
import redis

# redis-server flags every test server shares: loopback only, nothing written to disk.
_EPHEMERAL = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]


def missing(reason: str) -> None:
    """Skip with ``reason``, or fail under CI=true, where every set-up must run."""
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def binary(name: str) -> str:
    """The path of ``name`` on PATH; skips (fails under CI=true) when it is not installed."""
    path = shutil.which(name)
    if path is None:
        missing(f"no {name} on PATH: this test starts its own Redis set-up")
    assert path is not None
    return path


@functools.cache
def tls_build_problem() -> str | None:
    """Why this machine's redis-server cannot serve TLS, or None when it can (asked once per session)."""
    # With TLS built in and nothing to listen on, redis-server says so and exits; without it, tls-port is unknown.
    probe = subprocess.run(
        [binary("redis-server"), "--port", "0", "--tls-port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    output = probe.stdout + probe.stderr
    return (
        None if "not listen anywhere" in output else f"this redis-server was built without TLS: {output.strip()[-200:]}"
    )


def skip_without_tls() -> None:
    """Skip (even under CI=true: the build decides, not the set-up) when redis-server has no TLS."""
    problem = tls_build_problem()
    if problem is not None:
        print(problem)
        pytest.skip(problem)


def free_port(also_free: int = 0) -> int:
    """A port free on 127.0.0.1; with ``also_free``, one whose port + ``also_free`` is free too (a cluster bus)."""
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if not also_free:
            return port
        if port + also_free <= 65535:
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", port + also_free))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free pair of ports")


def wait_until(ready: Callable[[], bool], what: str, seconds: float = 20) -> None:
    """Poll ``ready`` until it is true; fail naming ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not ready():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {seconds:.0f} s")
        time.sleep(0.05)


def answers(client: redis.Redis) -> bool:
    """Whether ``client``'s server answers PING."""
    try:
        return bool(client.ping())
    except redis.exceptions.RedisError:
        return False


@contextmanager
def server(args: Sequence[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A ``redis-server`` process with ``args``, stopped (and waited for) on exit."""
    with log.open("wb") as out:
        process = subprocess.Popen([binary("redis-server"), *args], stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def cluster(folder: Path, masters: int = 3, tls: bool = False) -> Iterator[list[int]]:
    """A Redis Cluster of ``masters`` masters joined by ``redis-cli --cluster create``; yields their ports.

    With ``tls``, every node, the cluster bus and ``redis-cli`` speak TLS with a certificate made here
    (``folder / "ca.pem"`` is its CA).
    """
    cli = binary("redis-cli")
    ports = [free_port(also_free=10000) for _ in range(masters)]
    secure: list[str] = []
    client_tls: dict[str, object] = {}
    if tls:
        skip_without_tls()
        ca, certificate, key = make_certificates(folder)
        secure = ["--tls-cert-file", str(certificate), "--tls-key-file", str(key), "--tls-ca-cert-file", str(ca)]
        secure += ["--tls-auth-clients", "no", "--tls-cluster", "yes", "--tls-replication", "yes"]
        client_tls = {"ssl": True, "ssl_ca_certs": str(ca)}
    with ExitStack() as stack:
        for port in ports:
            node = folder / f"node-{port}"
            node.mkdir()
            listen = ["--port", "0", "--tls-port", str(port)] if tls else ["--port", str(port)]
            args = [*listen, *_EPHEMERAL, "--dir", str(node), "--cluster-enabled", "yes", *secure]
            args += ["--cluster-config-file", str(node / "nodes.conf"), "--cluster-node-timeout", "5000"]
            stack.enter_context(server(args, node / "log.txt"))
        clients = [stack.enter_context(redis.Redis(host="127.0.0.1", port=port, **client_tls)) for port in ports]
        for port, client in zip(ports, clients, strict=True):
            wait_until(lambda client=client: answers(client), f"cluster node {port} answering")
        create = [cli, *(["--tls", "--cacert", str(folder / "ca.pem")] if tls else [])]
        create += ["--cluster", "create", *(f"127.0.0.1:{port}" for port in ports), "--cluster-yes"]
        created = subprocess.run(create, capture_output=True, text=True, timeout=60, check=False)
        if created.returncode != 0:
            pytest.fail(f"redis-cli --cluster create failed: {created.stdout[-500:]} {created.stderr[-500:]}")

        def ready() -> bool:
            infos = [str(client.execute_command("CLUSTER", "INFO")) for client in clients]
            return all("cluster_state:ok" in info and f"cluster_known_nodes:{masters}" in info for info in infos)

        wait_until(ready, "the cluster agreeing on its slots")
        yield ports


@contextmanager
def sentinel(folder: Path, password: str, service: str = "aldense", replica: bool = False) -> Iterator[tuple[int, int]]:
    """A master with ``password`` (and, with ``replica``, one replica) watched by one Sentinel (quorum 1).

    Yields (master port, Sentinel port).
    """
    master_port, sentinel_port = free_port(), free_port()
    with ExitStack() as stack:
        auth = ["--requirepass", password, "--masterauth", password]
        master_args = ["--port", str(master_port), *_EPHEMERAL, "--dir", str(folder), *auth]
        stack.enter_context(server(master_args, folder / "master.log"))
        master = stack.enter_context(redis.Redis(host="127.0.0.1", port=master_port, password=password))
        wait_until(lambda: answers(master), "the master answering")
        if replica:
            replica_port = free_port()
            replica_dir = folder / "replica"
            replica_dir.mkdir()
            replica_args = ["--port", str(replica_port), *_EPHEMERAL, "--dir", str(replica_dir), *auth]
            replica_args += ["--replicaof", "127.0.0.1", str(master_port)]
            stack.enter_context(server(replica_args, folder / "replica.log"))
            copy = stack.enter_context(redis.Redis(host="127.0.0.1", port=replica_port, password=password))
            wait_until(lambda: answers(copy) and copy.info("replication")["master_link_status"] == "up", "replication")
        # Sentinel rewrites its configuration file as it learns, so it gets a file of its own.
        config = folder / "sentinel.conf"
        config.write_text(
            f"port {sentinel_port}\nbind 127.0.0.1\ndir {folder}\n"
            f"sentinel monitor {service} 127.0.0.1 {master_port} 1\n"
            f"sentinel auth-pass {service} {password}\n"
            f"sentinel down-after-milliseconds {service} 5000\n"
            f"sentinel failover-timeout {service} 10000\n"
        )
        stack.enter_context(server([str(config), "--sentinel"], folder / "sentinel.log"))
        watcher = stack.enter_context(redis.Redis(host="127.0.0.1", port=sentinel_port, decode_responses=True))

        def ready() -> bool:
            try:
                known = watcher.sentinel_master(service)
            except redis.exceptions.RedisError:
                return False
            if int(known["port"]) != master_port:
                return False
            # A fail-over needs a replica Sentinel has itself talked to and found in sync.
            found = watcher.sentinel_slaves(service) if replica else []
            return not replica or (
                len(found) == 1 and found[0].get("master-link-status") == "ok" and not found[0].get("is_disconnected")
            )

        wait_until(ready, "Sentinel naming the master (and knowing its replica)")
        yield master_port, sentinel_port


def make_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate it signed for 127.0.0.1 only; returns (CA, certificate, key) PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Aldense test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    paths[2].chmod(0o600)
    return paths


@contextmanager
def tls_server(folder: Path) -> Iterator[tuple[int, Path]]:
    """A TLS-only Redis with a certificate made here; yields (port, CA file). Skips when the build lacks TLS."""
    skip_without_tls()
    ca, certificate, key = make_certificates(folder)
    port = free_port()
    args = ["--port", "0", "--tls-port", str(port), *_EPHEMERAL, "--dir", str(folder)]
    args += ["--tls-cert-file", str(certificate), "--tls-key-file", str(key), "--tls-ca-cert-file", str(ca)]
    args += ["--tls-auth-clients", "no"]
    log = folder / "tls.log"
    with server(args, log) as process:
        client = redis.Redis(host="127.0.0.1", port=port, ssl=True, ssl_ca_certs=str(ca))
        deadline = time.monotonic() + 20
        while not answers(client):
            if process.poll() is not None:
                pytest.fail(f"the TLS redis-server exited: {log.read_text(errors='replace')[-500:]}")
            if time.monotonic() > deadline:
                pytest.fail("the TLS redis-server did not answer within 20 s")
            time.sleep(0.05)
        client.close()
        yield port, ca
