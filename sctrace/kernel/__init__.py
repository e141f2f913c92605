"""Asking the kernel: network namespaces, /proc, sock_diag, TCP states, packet capture, pcap."""
