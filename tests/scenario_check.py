"""What the scenario tests share: the notifications a node emitted with their times, the tshark check
of every link's pcap, and the addresses of the shared topology (mip6fast/scenarios/world.py)."""
from tshark_check import problems, require_tshark

from mip6fast.roles import slaac_address
from mip6fast.scenarios import FOREIGN_A, FOREIGN_B, MN_MAC
from mip6fast.sim import NS_PER_S

S = NS_PER_S
MS = 1_000_000
COA_A = slaac_address(FOREIGN_A, MN_MAC)
COA_B = slaac_address(FOREIGN_B, MN_MAC)


def timed(world, node, cls):
    """(time, notification) of every ``cls`` notification ``node`` emitted, in order."""
    return [(t, n) for t, name, n in world.sim.timeline if name == node and isinstance(n, cls)]


# On the core link a packet from a foreign router to the home agent crosses twice (the foreign router's
# default route is the core router, which forwards it back onto the link to the home agent): tshark's
# ESP sequence analysis then sees each protected BU's sequence number twice in that capture.
ESP_SEEN_TWICE = "esp.sequence-analysis.wrong-sequence-number"


def check_pcaps(summary):
    """tshark dissects every link's capture of the scenario without a complaint."""
    require_tshark()
    assert summary["pcaps"]
    for path in summary["pcaps"]:
        assert problems(path, ignore=(ESP_SEEN_TWICE,)) == [], path
