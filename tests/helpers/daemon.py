"""Minimal daemon configuration files for the home agent and the mobile node on an interface that does
not exist (``mip6-none0``): a daemon built from them gets through its configuration and protection
checks and fails when it claims the interface (tests/test_daemon_security.py, test_rfc4285_config.py).
``extra``: more lines for the role's section; ``security``: a ``[security]`` section."""


def ha_text(tmp_path, extra="", security=""):
    return f"""
[daemon]
control_socket = "{tmp_path}/ha.sock"
lock_dir = "{tmp_path}/locks"
[interfaces.mip6-none0]
addresses = ["2001:db8:1::1/64"]
[home_agent]
interface = "mip6-none0"
home_prefixes = ["2001:db8:1::/64"]
address = "2001:db8:1::1"
{extra}
{security}"""


def mn_text(tmp_path, extra="", security=""):
    return f"""
[daemon]
control_socket = "{tmp_path}/mn.sock"
lock_dir = "{tmp_path}/locks"
[interfaces.mip6-none0]
[mobile_node]
interface = "mip6-none0"
homes = [{{ address = "2001:db8:1::9", home_agent = "2001:db8:1::1", prefix_length = 64 }}]
{extra}
{security}"""
