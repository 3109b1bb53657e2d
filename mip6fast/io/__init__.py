"""The code that touches the outside world: capture files (``pcap``), AF_PACKET rings (``ring``) and
plain packet sockets (``packet_socket``) on real interfaces, TUN devices (``tun``), the loop that runs a
node on them (``runner``), and network namespaces for test beds and the demo (``netns``)."""
