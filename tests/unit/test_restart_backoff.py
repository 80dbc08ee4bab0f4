"""The supervisor's restart policy: growing delays, giving up only on crashes close together."""

from jupyter_mlplat.infra.processes import RestartBackoff


def test_delays_double_up_to_the_longest():
    backoff = RestartBackoff(first=1, longest=8, limit=10, window=1000)
    assert [backoff.delay(t) for t in range(6)] == [1, 2, 4, 8, 8, 8]


def test_gives_up_after_the_limit_within_the_window():
    backoff = RestartBackoff(limit=3, window=60)
    assert [backoff.delay(t) is None for t in (0, 10, 20, 30)] == [False, False, False, True]


def test_crashes_far_apart_are_always_restarted_from_the_first_delay():
    backoff = RestartBackoff(limit=3, window=60)
    assert [backoff.delay(t * 100) for t in range(10)] == [1.0] * 10


def test_free_ports_avoid_the_range_of_outgoing_connections():
    """A port picked for a server is not one a client connection could take before it binds."""
    import socket
    from pathlib import Path

    from jupyter_mlplat.infra.processes import free_port

    low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    ports = {free_port() for _ in range(20)}
    assert not any(low <= port <= high for port in ports)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        busy = taken.getsockname()[1]
        assert free_port(busy) != busy
