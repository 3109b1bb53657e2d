"""Hypothesis strategies for Mobility Header objects (mip6fast.wire.mobility), for anyone's tests.

    from strategies_mobility import mobility_messages, mobility_options

``mobility_options()`` draws any option object, Binding Authorization Data included.
``mobility_messages()`` draws messages of every class (UnknownMobilityMessage included) that
``build_mh`` accepts: at most 32 options, Binding Authorization Data only last (RFC 6275 §6.2.7), well
under 2048 bytes. Lifetimes and intervals are drawn as any whole number of seconds the wire can carry,
so the objects' rounding to 4-second units is exercised too.
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
    NonceIndices,
    UnknownMobilityMessage,
    UnknownMobilityOption,
)

__all__ = ["addresses", "mobility_options", "mobility_messages"]

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
seconds = st.integers(0, 0xFFFF * 4)
cookies = st.binary(min_size=8, max_size=8)


def addresses():
    return st.binary(min_size=16, max_size=16).map(IPv6Address)


def _unknown_options(max_data=40):
    # Types 6-255: neither padding (0, 1) nor one of the four known options (2-5).
    return st.builds(UnknownMobilityOption, st.integers(6, 0xFF), st.binary(max_size=max_data))


def _non_bad_options():
    return st.one_of(
        st.builds(BindingRefreshAdvice, seconds),
        st.builds(AlternateCareOfAddress, addresses()),
        st.builds(NonceIndices, u16, u16),
        _unknown_options(),
    )


def mobility_options():
    """Any mobility option object (every class, Binding Authorization Data included)."""
    return st.one_of(_non_bad_options(),
                     st.builds(BindingAuthorizationData, st.binary(min_size=12, max_size=12)))


@st.composite
def _option_lists(draw, max_size=31):
    """Options a builder accepts: any number of others, then at most one BAD, last."""
    options = draw(st.lists(_non_bad_options(), max_size=max_size))
    if draw(st.booleans()):
        options.append(draw(st.builds(BindingAuthorizationData, st.binary(min_size=12, max_size=12))))
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
        st.builds(UnknownMobilityMessage, st.integers(8, 0xFF), _unknown_bodies()),
    )
