"""Fixtures and builders shared by several test modules; none of these modules is a test module.

Test modules import them as ``from helpers.home_agent import make_ha`` (pytest puts ``tests/`` on
``sys.path``, as for ``reference``, ``netns`` or ``tshark_check``). A test module never imports another
test module (tests/test_sourcecode.py checks that):

* ``helpers.home_agent``: one home agent with a home link and a foreign side, hand-built frames.
* ``helpers.mobile_node``: one mobile node, its home agent and routers A, B, C, hand-built frames.
* ``helpers.daemon``: minimal home agent and mobile node daemon configuration files.
* ``helpers.rfc4285``: RFC 4285's authenticator and timestamps computed with hmac/hashlib alone.
* ``helpers.datapath``: packet builders from the RFC layouts and the harness that runs a compiled
  data-path kernel next to the pure-Python reference.
"""
