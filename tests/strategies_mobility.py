"""Hypothesis strategies for Mobility Header objects (mip6fast.wire.mobility), for anyone's tests.

    from strategies_mobility import mobility_messages, mobility_options

``mobility_options()`` draws any option object, Binding Authorization Data and the RFC 4283 / RFC 4285
options included. ``mobility_messages()`` draws messages of every class (UnknownMobilityMessage included)
that ``build_mh`` accepts: at most 32 options, Binding Authorization Data only last (RFC 6275 §6.2.7),
Mobility Message Authentication options only at the end (RFC 4285 §5), well under 2048 bytes. Lifetimes
and intervals are drawn as any whole number of seconds the wire can carry, so the objects' rounding to
4-second units is exercised too.
"""
from ipaddress import IPv6Address

from hypothesis import strategies as st

from mip6fast.wire.mobility import (
    AlternateCareOfAddress,
    BindingAcknowledgement,
    BindingAuthorizationData,
    BindingError,
    BindingRefreshAdvice,
    BindingRefreshRequest,
    BindingUpdate,
    CareOfTest,
    CareOfTestInit,
    HomeTest,
    HomeTestInit,
    MobileNodeIdentifier,
    MobilityMessageAuthentication,
    MobilityMessageReplayProtection,
    NonceIndices,
    HomeAgentSwitch,
    UnknownMobilityMessage,
    UnknownMobilityOption,
)

__all__ = ["addresses", "mobility_messages", "mobility_options"]

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
seconds = st.integers(0, 0xFFFF * 4)
cookies = st.binary(min_size=8, max_size=8)


def addresses():
    return st.binary(min_size=16, max_size=16).map(IPv6Address)


KNOWN_OPTION_TYPES = (2, 3, 4, 5, 8, 9, 10)


def _unknown_options(max_data=40):
    # Types 6-255 that are neither padding (0, 1) nor a known option with its own class.
    types = st.integers(6, 0xFF).filter(lambda t: t not in KNOWN_OPTION_TYPES)
    return st.builds(UnknownMobilityOption, types, st.binary(max_size=max_data))


def _not_last_options():
    return st.one_of(
        st.builds(BindingRefreshAdvice, seconds),
        st.builds(AlternateCareOfAddress, addresses()),
        st.builds(NonceIndices, u16, u16),
        st.builds(MobileNodeIdentifier, st.binary(min_size=1, max_size=40), u8),
        st.builds(MobilityMessageReplayProtection, st.integers(0, (1 << 64) - 1)),
        _unknown_options(),
    )


def _binding_authorization_data():
    return st.builds(BindingAuthorizationData, st.binary(min_size=12, max_size=12))


def _mobility_message_authentications():
    # 12 bytes is the MN-HA authenticator (RFC 4285 §5.1); other lengths are legal on the wire.
    authenticators = st.one_of(st.binary(min_size=12, max_size=12), st.binary(min_size=1, max_size=40))
    return st.builds(MobilityMessageAuthentication, st.integers(0, (1 << 32) - 1), authenticators, u8)


def mobility_options():
    """Any mobility option object (every class, the ones that must come last included)."""
    return st.one_of(_not_last_options(), _binding_authorization_data(), _mobility_message_authentications())


@st.composite
def _option_lists(draw, max_size=30):
    """Options a builder accepts: any number of others, then one Binding Authorization Data (RFC 6275
    §6.2.7), or one or two Mobility Message Authentication options (RFC 4285 §5), or neither."""
    options = draw(st.lists(_not_last_options(), max_size=max_size))
    last = draw(st.sampled_from(["none", "bad", "auth", "auth2"]))
    if last == "bad":
        options.append(draw(_binding_authorization_data()))
    elif last != "none":
        options += draw(st.lists(_mobility_message_authentications(), min_size=1,
                                 max_size=1 if last == "auth" else 2))
    return tuple(options)


def _unknown_bodies():
    # Every byte after the 6-byte common part: 8n+2 bytes keeps the header a multiple of 8.
    return st.integers(0, 20).flatmap(lambda n: st.binary(min_size=8 * n + 2, max_size=8 * n + 2))


def mobility_messages():
    """Any buildable Mobility Header message object, of every class."""
    opts = _option_lists()
    return st.one_of(
        st.builds(BindingRefreshRequest, opts),
        st.builds(HomeTestInit, cookies, opts),
        st.builds(CareOfTestInit, cookies, opts),
        st.builds(HomeTest, u16, cookies, cookies, opts),
        st.builds(CareOfTest, u16, cookies, cookies, opts),
        st.builds(BindingUpdate, u16, seconds, ack=st.booleans(), home=st.booleans(),
                  link_local=st.booleans(), key_management=st.booleans(), options=opts),
        st.builds(BindingAcknowledgement, u8, u16, seconds, st.booleans(), opts),
        st.builds(BindingError, u8, addresses(), opts),
        st.builds(HomeAgentSwitch, st.lists(addresses(), max_size=4), opts),
        # MH types no class knows: 8..255 but 12 (Home Agent Switch, RFC 5142)
        st.builds(UnknownMobilityMessage, st.integers(8, 0xFF).filter(lambda t: t != 12), _unknown_bodies()),
    )
