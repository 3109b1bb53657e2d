"""pytest fixtures for tests on real interfaces: network namespaces joined by veth pairs
(mip6fast.io.netns.NetnsLab), always removed after the test, also when it fails.

Use them with ``pytest_plugins = ["netns"]`` in a test module (fixtures ``netns_available``, ``lab``,
``veth_pair``) and mark the tests ``@pytest.mark.root``. Without root (or pyroute2) the fixtures skip
with the reason; with the environment variable CI set they fail instead, so CI can never pass by
skipping them.
"""
from __future__ import annotations

import os

import pytest

from mip6fast.io.netns import NetnsLab, can_use_netns, remove_stale

IN_CI = bool(os.environ.get("CI"))


def require_netns() -> None:
    """Skip (fail under CI) unless this process can build namespaces and veth pairs."""
    ok, why = can_use_netns()
    if not ok:
        if IN_CI:
            pytest.fail(f"CI is set but this test cannot run: {why}")
        pytest.skip(why)


@pytest.fixture(scope="session")
def _stale_labs_removed():
    """Once per run: namespaces of an earlier run that was killed are removed."""
    ok, _ = can_use_netns()
    if ok:
        remove_stale()


@pytest.fixture
def netns_available(_stale_labs_removed):
    """Skips (fails under CI) the test unless namespaces and veth pairs can be built."""
    require_netns()


@pytest.fixture
def lab(request, netns_available):
    """An empty NetnsLab named after the test; everything in it is removed at teardown."""
    name = "".join(ch for ch in request.node.name if ch.isalnum())[:12]
    built = NetnsLab(name)
    try:
        yield built
    finally:
        names = built.namespaces
        built.close()
    left = [ns for ns in names if os.path.exists(os.path.join("/run/netns", ns))]
    assert not left, f"namespaces left behind: {left}"


@pytest.fixture
def veth_pair(lab):
    """Namespaces "a" and "b" joined by one veth pair, the kernel's IPv6 off on both ends:
    (lab, end_a, end_b)."""
    end_a, end_b = lab.veth("a", "b")
    return lab, end_a, end_b
