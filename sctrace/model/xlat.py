# SPDX-License-Identifier: GPL-2.0-or-later
"""Kernel constants and how strace 6.1 spells them.

sctrace prints system calls exactly as ``strace -yy`` does, so every number that
strace shows by name has to be turned into the very same name here, and every
number strace does not know has to degrade the same way instead of raising.
The tables are data (regenerated from the C headers by scripts/gen_xlat.py, see
the generated block below); the functions after them encode strace's rules for
combining them: flag order, the ``?`` of restart codes, per-family protocols.

Nothing here asks the running system: a trace recorded on one machine must
render identically on another, so the tables are explicit rather than taken
from the socket/errno/signal modules (the tests cross-check them against those).

The one deliberate difference from strace: a value with no name is written as
``AF_???(42)`` (decimal) where strace writes ``0x2a /* AF_??? */``.  Flag sets
follow strace exactly, including its ``0x100000 /* MSG_??? */`` comment.
"""

from __future__ import annotations

from collections.abc import Mapping

# --- BEGIN GENERATED TABLES (scripts/gen_xlat.py) ---
# Do not edit by hand: run `python3 scripts/gen_xlat.py --write` (and --check in CI).
# Values come from the installed headers; names follow strace 6.1, which is what sctrace mimics.

# Address families (PF_* values, printed with their AF_* names).
# From /usr/include/x86_64-linux-gnu/bits/socket.h
ADDRESS_FAMILIES: dict[int, str] = {
    0: "AF_UNSPEC", 1: "AF_UNIX", 2: "AF_INET", 3: "AF_AX25", 4: "AF_IPX", 5: "AF_APPLETALK", 6: "AF_NETROM",
    7: "AF_BRIDGE", 8: "AF_ATMPVC", 9: "AF_X25", 10: "AF_INET6", 11: "AF_ROSE", 12: "AF_DECnet",
    13: "AF_NETBEUI", 14: "AF_SECURITY", 15: "AF_KEY", 16: "AF_NETLINK", 17: "AF_PACKET", 18: "AF_ASH",
    19: "AF_ECONET", 20: "AF_ATMSVC", 21: "AF_RDS", 22: "AF_SNA", 23: "AF_IRDA", 24: "AF_PPPOX",
    25: "AF_WANPIPE", 26: "AF_LLC", 27: "AF_IB", 28: "AF_MPLS", 29: "AF_CAN", 30: "AF_TIPC",
    31: "AF_BLUETOOTH", 32: "AF_IUCV", 33: "AF_RXRPC", 34: "AF_ISDN", 35: "AF_PHONET", 36: "AF_IEEE802154",
    37: "AF_CAIF", 38: "AF_ALG", 39: "AF_NFC", 40: "AF_VSOCK", 41: "AF_KCM", 42: "AF_QIPCRTR", 43: "AF_SMC",
    44: "AF_XDP", 45: "AF_MCTP",
}

# The base socket type (the low four bits of socket()'s type).
# From /usr/include/x86_64-linux-gnu/bits/socket_type.h
SOCKET_TYPES: dict[int, str] = {
    1: "SOCK_STREAM", 2: "SOCK_DGRAM", 3: "SOCK_RAW", 4: "SOCK_RDM", 5: "SOCK_SEQPACKET", 6: "SOCK_DCCP",
    10: "SOCK_PACKET",
}

# Flags or-ed into the type; kept in header order, which is strace's order.
# From /usr/include/x86_64-linux-gnu/bits/socket_type.h
SOCKET_TYPE_FLAGS: dict[int, str] = {
    0x80000: "SOCK_CLOEXEC", 0x800: "SOCK_NONBLOCK",
}

# socket()'s protocol for AF_INET and AF_INET6.
# From /usr/include/linux/in.h, /usr/include/linux/in6.h
IP_PROTOCOLS: dict[int, str] = {
    0: "IPPROTO_IP", 1: "IPPROTO_ICMP", 2: "IPPROTO_IGMP", 4: "IPPROTO_IPIP", 6: "IPPROTO_TCP",
    8: "IPPROTO_EGP", 12: "IPPROTO_PUP", 17: "IPPROTO_UDP", 22: "IPPROTO_IDP", 29: "IPPROTO_TP",
    33: "IPPROTO_DCCP", 41: "IPPROTO_IPV6", 43: "IPPROTO_ROUTING", 44: "IPPROTO_FRAGMENT", 46: "IPPROTO_RSVP",
    47: "IPPROTO_GRE", 50: "IPPROTO_ESP", 51: "IPPROTO_AH", 58: "IPPROTO_ICMPV6", 59: "IPPROTO_NONE",
    60: "IPPROTO_DSTOPTS", 92: "IPPROTO_MTP", 94: "IPPROTO_BEETPH", 98: "IPPROTO_ENCAP", 103: "IPPROTO_PIM",
    108: "IPPROTO_COMP", 115: "IPPROTO_L2TP", 132: "IPPROTO_SCTP", 135: "IPPROTO_MH", 136: "IPPROTO_UDPLITE",
    137: "IPPROTO_MPLS", 143: "IPPROTO_ETHERNET", 255: "IPPROTO_RAW", 262: "IPPROTO_MPTCP",
}

# socket()'s protocol for AF_NETLINK.
# From /usr/include/linux/netlink.h
NETLINK_PROTOCOLS: dict[int, str] = {
    0: "NETLINK_ROUTE", 1: "NETLINK_UNUSED", 2: "NETLINK_USERSOCK", 3: "NETLINK_FIREWALL",
    4: "NETLINK_SOCK_DIAG", 5: "NETLINK_NFLOG", 6: "NETLINK_XFRM", 7: "NETLINK_SELINUX", 8: "NETLINK_ISCSI",
    9: "NETLINK_AUDIT", 10: "NETLINK_FIB_LOOKUP", 11: "NETLINK_CONNECTOR", 12: "NETLINK_NETFILTER",
    13: "NETLINK_IP6_FW", 14: "NETLINK_DNRTMSG", 15: "NETLINK_KOBJECT_UEVENT", 16: "NETLINK_GENERIC",
    18: "NETLINK_SCSITRANSPORT", 19: "NETLINK_ECRYPTFS", 20: "NETLINK_RDMA", 21: "NETLINK_CRYPTO",
    22: "NETLINK_SMC",
}

# socket()'s protocol for AF_PACKET, printed as htons(ETH_P_*).
# From /usr/include/linux/if_ether.h
# Left out because strace 6.1 prints them as numbers: ETH_P_ETHERCAT, ETH_P_PROFINET.
ETHERNET_PROTOCOLS: dict[int, str] = {
    1: "ETH_P_802_3", 2: "ETH_P_AX25", 3: "ETH_P_ALL", 4: "ETH_P_802_2", 5: "ETH_P_SNAP", 6: "ETH_P_DDCMP",
    7: "ETH_P_WAN_PPP", 8: "ETH_P_PPP_MP", 9: "ETH_P_LOCALTALK", 12: "ETH_P_CAN", 13: "ETH_P_CANFD",
    14: "ETH_P_CANXL", 16: "ETH_P_PPPTALK", 17: "ETH_P_TR_802_2", 21: "ETH_P_MOBITEX", 22: "ETH_P_CONTROL",
    23: "ETH_P_IRDA", 24: "ETH_P_ECONET", 25: "ETH_P_HDLC", 26: "ETH_P_ARCNET", 27: "ETH_P_DSA",
    28: "ETH_P_TRAILER", 96: "ETH_P_LOOP", 245: "ETH_P_PHONET", 246: "ETH_P_IEEE802154", 247: "ETH_P_CAIF",
    248: "ETH_P_XDSA", 249: "ETH_P_MAP", 250: "ETH_P_MCTP", 512: "ETH_P_PUP", 513: "ETH_P_PUPAT",
    1536: "ETH_P_802_3_MIN", 2048: "ETH_P_IP", 2053: "ETH_P_X25", 2054: "ETH_P_ARP", 2303: "ETH_P_BPQ",
    2560: "ETH_P_IEEEPUP", 2561: "ETH_P_IEEEPUPAT", 8939: "ETH_P_ERSPAN2", 8944: "ETH_P_TSN",
    17157: "ETH_P_BATMAN", 24576: "ETH_P_DEC", 24577: "ETH_P_DNA_DL", 24578: "ETH_P_DNA_RC",
    24579: "ETH_P_DNA_RT", 24580: "ETH_P_LAT", 24581: "ETH_P_DIAG", 24582: "ETH_P_CUST", 24583: "ETH_P_SCA",
    25944: "ETH_P_TEB", 32821: "ETH_P_RARP", 32923: "ETH_P_ATALK", 33011: "ETH_P_AARP", 33024: "ETH_P_8021Q",
    33079: "ETH_P_IPX", 34525: "ETH_P_IPV6", 34824: "ETH_P_PAUSE", 34825: "ETH_P_SLOW", 34878: "ETH_P_WCCP",
    34887: "ETH_P_MPLS_UC", 34888: "ETH_P_MPLS_MC", 34892: "ETH_P_ATMMPOA", 34915: "ETH_P_PPP_DISC",
    34916: "ETH_P_PPP_SES", 34924: "ETH_P_LINK_CTL", 34948: "ETH_P_ATMFATE", 34958: "ETH_P_PAE",
    34969: "ETH_P_REALTEK", 34978: "ETH_P_AOE", 34984: "ETH_P_8021AD", 34997: "ETH_P_802_EX1",
    35006: "ETH_P_ERSPAN", 35015: "ETH_P_PREAUTH", 35018: "ETH_P_TIPC", 35020: "ETH_P_LLDP",
    35043: "ETH_P_MRP", 35045: "ETH_P_MACSEC", 35047: "ETH_P_8021AH", 35061: "ETH_P_MVRP",
    35063: "ETH_P_1588", 35064: "ETH_P_NCSI", 35067: "ETH_P_PRP", 35074: "ETH_P_CFM", 35078: "ETH_P_FCOE",
    35085: "ETH_P_TDLS", 35092: "ETH_P_FIP", 35093: "ETH_P_IBOE", 35095: "ETH_P_80221", 35119: "ETH_P_HSR",
    35151: "ETH_P_NSH", 36864: "ETH_P_LOOPBACK", 37120: "ETH_P_QINQ1", 37376: "ETH_P_QINQ2",
    37632: "ETH_P_QINQ3", 56026: "ETH_P_EDSA", 56027: "ETH_P_DSA_8021Q", 57345: "ETH_P_DSA_A5PSW",
    60734: "ETH_P_IFE", 64507: "ETH_P_AF_IUCV",
}

# socket()'s protocol for AF_CAN (strace also uses it for AF_IRDA).
# From /usr/include/linux/can.h
CAN_PROTOCOLS: dict[int, str] = {
    1: "CAN_RAW", 2: "CAN_BCM", 3: "CAN_TP16", 4: "CAN_TP20", 5: "CAN_MCNET", 6: "CAN_ISOTP", 7: "CAN_J1939",
}

# send/recv flags; glibc's MSG_PROXY is the kernel's (and strace's) MSG_PROBE.
# From /usr/include/x86_64-linux-gnu/bits/socket.h
# Not in the uapi headers, from include/linux/socket.h of the kernel tree: MSG_SENDPAGE_NOTLAST,
# MSG_NO_SHARED_FRAGS, MSG_CMSG_COMPAT.
MSG_FLAGS: dict[int, str] = {
    0x1: "MSG_OOB", 0x2: "MSG_PEEK", 0x4: "MSG_DONTROUTE", 0x8: "MSG_CTRUNC", 0x10: "MSG_PROBE",
    0x20: "MSG_TRUNC", 0x40: "MSG_DONTWAIT", 0x80: "MSG_EOR", 0x100: "MSG_WAITALL", 0x200: "MSG_FIN",
    0x400: "MSG_SYN", 0x800: "MSG_CONFIRM", 0x1000: "MSG_RST", 0x2000: "MSG_ERRQUEUE", 0x4000: "MSG_NOSIGNAL",
    0x8000: "MSG_MORE", 0x10000: "MSG_WAITFORONE", 0x20000: "MSG_SENDPAGE_NOTLAST", 0x40000: "MSG_BATCH",
    0x80000: "MSG_NO_SHARED_FRAGS", 0x4000000: "MSG_ZEROCOPY", 0x20000000: "MSG_FASTOPEN",
    0x40000000: "MSG_CMSG_CLOEXEC", 0x80000000: "MSG_CMSG_COMPAT",
}

# setsockopt/getsockopt levels; strace names level 40 AF_VSOCK.
# From /usr/include/x86_64-linux-gnu/bits/in.h, /usr/include/asm-generic/socket.h, /usr/include/netinet/tcp.h,
# /usr/include/netinet/udp.h, /usr/include/x86_64-linux-gnu/bits/socket.h, /usr/include/netipx/ipx.h,
# /usr/include/netax25/ax25.h, /usr/include/netatalk/at.h, /usr/include/netrom/netrom.h,
# /usr/include/netrose/rose.h, /usr/include/linux/can.h, /usr/include/linux/can/raw.h
# Not in the uapi headers, from include/linux/socket.h of the kernel tree (SOL_SCTP, SOL_UDPLITE) and strace
# (AF_VSOCK): AF_VSOCK, SOL_SCTP, SOL_UDPLITE.
# Left out because strace 6.1 prints them as numbers: SOL_MCTP, SOL_MPTCP, SOL_SMC.
SOCKET_LEVELS: dict[int, str] = {
    0: "SOL_IP", 1: "SOL_SOCKET", 6: "SOL_TCP", 17: "SOL_UDP", 40: "AF_VSOCK", 41: "SOL_IPV6",
    58: "SOL_ICMPV6", 100: "SOL_CAN_BASE", 101: "SOL_CAN_RAW", 132: "SOL_SCTP", 136: "SOL_UDPLITE",
    255: "SOL_RAW", 256: "SOL_IPX", 257: "SOL_AX25", 258: "SOL_ATALK", 259: "SOL_NETROM", 260: "SOL_ROSE",
    261: "SOL_DECNET", 262: "SOL_X25", 263: "SOL_PACKET", 264: "SOL_ATM", 265: "SOL_AAL", 266: "SOL_IRDA",
    267: "SOL_NETBEUI", 268: "SOL_LLC", 269: "SOL_DCCP", 270: "SOL_NETLINK", 271: "SOL_TIPC",
    272: "SOL_RXRPC", 273: "SOL_PPPOL2TP", 274: "SOL_BLUETOOTH", 275: "SOL_PNPIPE", 276: "SOL_RDS",
    277: "SOL_IUCV", 278: "SOL_CAIF", 279: "SOL_ALG", 280: "SOL_NFC", 281: "SOL_KCM", 282: "SOL_TLS",
    283: "SOL_XDP",
}

# SOL_SOCKET options for both directions (x86_64 uses the asm-generic values).
# From /usr/include/asm-generic/socket.h
SO_OPTIONS: dict[int, str] = {
    1: "SO_DEBUG", 2: "SO_REUSEADDR", 3: "SO_TYPE", 4: "SO_ERROR", 5: "SO_DONTROUTE", 6: "SO_BROADCAST",
    7: "SO_SNDBUF", 8: "SO_RCVBUF", 9: "SO_KEEPALIVE", 10: "SO_OOBINLINE", 11: "SO_NO_CHECK",
    12: "SO_PRIORITY", 13: "SO_LINGER", 14: "SO_BSDCOMPAT", 15: "SO_REUSEPORT", 16: "SO_PASSCRED",
    17: "SO_PEERCRED", 18: "SO_RCVLOWAT", 19: "SO_SNDLOWAT", 20: "SO_RCVTIMEO_OLD", 21: "SO_SNDTIMEO_OLD",
    22: "SO_SECURITY_AUTHENTICATION", 23: "SO_SECURITY_ENCRYPTION_TRANSPORT",
    24: "SO_SECURITY_ENCRYPTION_NETWORK", 25: "SO_BINDTODEVICE", 27: "SO_DETACH_FILTER", 28: "SO_PEERNAME",
    29: "SO_TIMESTAMP_OLD", 30: "SO_ACCEPTCONN", 31: "SO_PEERSEC", 32: "SO_SNDBUFFORCE", 33: "SO_RCVBUFFORCE",
    34: "SO_PASSSEC", 35: "SO_TIMESTAMPNS_OLD", 36: "SO_MARK", 37: "SO_TIMESTAMPING_OLD", 38: "SO_PROTOCOL",
    39: "SO_DOMAIN", 40: "SO_RXQ_OVFL", 41: "SO_WIFI_STATUS", 42: "SO_PEEK_OFF", 43: "SO_NOFCS",
    44: "SO_LOCK_FILTER", 45: "SO_SELECT_ERR_QUEUE", 46: "SO_BUSY_POLL", 47: "SO_MAX_PACING_RATE",
    48: "SO_BPF_EXTENSIONS", 49: "SO_INCOMING_CPU", 50: "SO_ATTACH_BPF", 51: "SO_ATTACH_REUSEPORT_CBPF",
    52: "SO_ATTACH_REUSEPORT_EBPF", 53: "SO_CNX_ADVICE", 55: "SO_MEMINFO", 56: "SO_INCOMING_NAPI_ID",
    57: "SO_COOKIE", 59: "SO_PEERGROUPS", 60: "SO_ZEROCOPY", 61: "SO_TXTIME", 62: "SO_BINDTOIFINDEX",
    63: "SO_TIMESTAMP_NEW", 64: "SO_TIMESTAMPNS_NEW", 65: "SO_TIMESTAMPING_NEW", 66: "SO_RCVTIMEO_NEW",
    67: "SO_SNDTIMEO_NEW", 68: "SO_DETACH_REUSEPORT_BPF", 69: "SO_PREFER_BUSY_POLL",
    70: "SO_BUSY_POLL_BUDGET", 71: "SO_NETNS_COOKIE", 72: "SO_BUF_LOCK", 73: "SO_RESERVE_MEM",
    74: "SO_TXREHASH", 75: "SO_RCVMARK",
}

# SOL_SOCKET option 26 as getsockopt reads it.
# From /usr/include/asm-generic/socket.h
SO_GET_OPTIONS: dict[int, str] = {
    26: "SO_GET_FILTER",
}

# SOL_SOCKET option 26 as setsockopt writes it.
# From /usr/include/asm-generic/socket.h
SO_SET_OPTIONS: dict[int, str] = {
    26: "SO_ATTACH_FILTER",
}

# SOL_IP options for both directions.
# From /usr/include/linux/in.h
# Left out because strace 6.1 prints them as numbers: IP_LOCAL_PORT_RANGE, IP_PROTOCOL.
IP_OPTIONS: dict[int, str] = {
    1: "IP_TOS", 2: "IP_TTL", 3: "IP_HDRINCL", 4: "IP_OPTIONS", 5: "IP_ROUTER_ALERT", 6: "IP_RECVOPTS",
    7: "IP_RETOPTS", 8: "IP_PKTINFO", 9: "IP_PKTOPTIONS", 10: "IP_MTU_DISCOVER", 11: "IP_RECVERR",
    12: "IP_RECVTTL", 13: "IP_RECVTOS", 14: "IP_MTU", 15: "IP_FREEBIND", 16: "IP_IPSEC_POLICY",
    17: "IP_XFRM_POLICY", 18: "IP_PASSSEC", 19: "IP_TRANSPARENT", 20: "IP_ORIGDSTADDR", 21: "IP_MINTTL",
    22: "IP_NODEFRAG", 23: "IP_CHECKSUM", 24: "IP_BIND_ADDRESS_NO_PORT", 25: "IP_RECVFRAGSIZE",
    26: "IP_RECVERR_RFC4884", 32: "IP_MULTICAST_IF", 33: "IP_MULTICAST_TTL", 34: "IP_MULTICAST_LOOP",
    35: "IP_ADD_MEMBERSHIP", 36: "IP_DROP_MEMBERSHIP", 37: "IP_UNBLOCK_SOURCE", 38: "IP_BLOCK_SOURCE",
    39: "IP_ADD_SOURCE_MEMBERSHIP", 40: "IP_DROP_SOURCE_MEMBERSHIP", 41: "IP_MSFILTER",
    42: "MCAST_JOIN_GROUP", 43: "MCAST_BLOCK_SOURCE", 44: "MCAST_UNBLOCK_SOURCE", 45: "MCAST_LEAVE_GROUP",
    46: "MCAST_JOIN_SOURCE_GROUP", 47: "MCAST_LEAVE_SOURCE_GROUP", 48: "MCAST_MSFILTER",
    49: "IP_MULTICAST_ALL", 50: "IP_UNICAST_IF",
}

# SOL_IP options only getsockopt has (iptables, arptables).
# From /usr/include/linux/netfilter_ipv4/ip_tables.h, /usr/include/linux/netfilter_arp/arp_tables.h
IP_GET_OPTIONS: dict[int, str] = {
    64: "IPT_SO_GET_INFO", 65: "IPT_SO_GET_ENTRIES", 66: "IPT_SO_GET_REVISION_MATCH",
    67: "IPT_SO_GET_REVISION_TARGET", 96: "ARPT_SO_GET_INFO", 97: "ARPT_SO_GET_ENTRIES",
    99: "ARPT_SO_GET_REVISION_TARGET",
}

# SOL_IP options only setsockopt has (iptables, arptables).
# From /usr/include/linux/netfilter_ipv4/ip_tables.h, /usr/include/linux/netfilter_arp/arp_tables.h
IP_SET_OPTIONS: dict[int, str] = {
    64: "IPT_SO_SET_REPLACE", 65: "IPT_SO_SET_ADD_COUNTERS", 96: "ARPT_SO_SET_REPLACE",
    97: "ARPT_SO_SET_ADD_COUNTERS",
}

# SOL_IPV6 options for both directions, with the shared MCAST_* ones.
# From /usr/include/linux/in6.h, /usr/include/linux/in.h
IPV6_OPTIONS: dict[int, str] = {
    1: "IPV6_ADDRFORM", 2: "IPV6_2292PKTINFO", 3: "IPV6_2292HOPOPTS", 4: "IPV6_2292DSTOPTS",
    5: "IPV6_2292RTHDR", 6: "IPV6_2292PKTOPTIONS", 7: "IPV6_CHECKSUM", 8: "IPV6_2292HOPLIMIT",
    9: "IPV6_NEXTHOP", 10: "IPV6_AUTHHDR", 11: "IPV6_FLOWINFO", 16: "IPV6_UNICAST_HOPS",
    17: "IPV6_MULTICAST_IF", 18: "IPV6_MULTICAST_HOPS", 19: "IPV6_MULTICAST_LOOP", 20: "IPV6_ADD_MEMBERSHIP",
    21: "IPV6_DROP_MEMBERSHIP", 22: "IPV6_ROUTER_ALERT", 23: "IPV6_MTU_DISCOVER", 24: "IPV6_MTU",
    25: "IPV6_RECVERR", 26: "IPV6_V6ONLY", 27: "IPV6_JOIN_ANYCAST", 28: "IPV6_LEAVE_ANYCAST",
    29: "IPV6_MULTICAST_ALL", 30: "IPV6_ROUTER_ALERT_ISOLATE", 31: "IPV6_RECVERR_RFC4884",
    32: "IPV6_FLOWLABEL_MGR", 33: "IPV6_FLOWINFO_SEND", 34: "IPV6_IPSEC_POLICY", 35: "IPV6_XFRM_POLICY",
    36: "IPV6_HDRINCL", 42: "MCAST_JOIN_GROUP", 43: "MCAST_BLOCK_SOURCE", 44: "MCAST_UNBLOCK_SOURCE",
    45: "MCAST_LEAVE_GROUP", 46: "MCAST_JOIN_SOURCE_GROUP", 47: "MCAST_LEAVE_SOURCE_GROUP",
    48: "MCAST_MSFILTER", 49: "IPV6_RECVPKTINFO", 50: "IPV6_PKTINFO", 51: "IPV6_RECVHOPLIMIT",
    52: "IPV6_HOPLIMIT", 53: "IPV6_RECVHOPOPTS", 54: "IPV6_HOPOPTS", 55: "IPV6_RTHDRDSTOPTS",
    56: "IPV6_RECVRTHDR", 57: "IPV6_RTHDR", 58: "IPV6_RECVDSTOPTS", 59: "IPV6_DSTOPTS",
    60: "IPV6_RECVPATHMTU", 61: "IPV6_PATHMTU", 62: "IPV6_DONTFRAG", 63: "IPV6_USE_MIN_MTU",
    66: "IPV6_RECVTCLASS", 67: "IPV6_TCLASS", 70: "IPV6_AUTOFLOWLABEL", 72: "IPV6_ADDR_PREFERENCES",
    73: "IPV6_MINHOPCOUNT", 74: "IPV6_ORIGDSTADDR", 75: "IPV6_TRANSPARENT", 76: "IPV6_UNICAST_IF",
    77: "IPV6_RECVFRAGSIZE", 78: "IPV6_FREEBIND",
}

# SOL_IPV6 options only getsockopt has (ip6tables).
# From /usr/include/linux/netfilter_ipv6/ip6_tables.h
IPV6_GET_OPTIONS: dict[int, str] = {
    64: "IP6T_SO_GET_INFO", 65: "IP6T_SO_GET_ENTRIES", 68: "IP6T_SO_GET_REVISION_MATCH",
    69: "IP6T_SO_GET_REVISION_TARGET",
}

# SOL_IPV6 options only setsockopt has (ip6tables).
# From /usr/include/linux/netfilter_ipv6/ip6_tables.h
IPV6_SET_OPTIONS: dict[int, str] = {
    64: "IP6T_SO_SET_REPLACE", 65: "IP6T_SO_SET_ADD_COUNTERS",
}

# SOL_TCP options; TCP_COOKIE_TRANSACTIONS left the headers but strace keeps it.
# From /usr/include/linux/tcp.h
# Not in the uapi headers, from Linux 3.9 linux/tcp.h: TCP_COOKIE_TRANSACTIONS.
TCP_OPTIONS: dict[int, str] = {
    1: "TCP_NODELAY", 2: "TCP_MAXSEG", 3: "TCP_CORK", 4: "TCP_KEEPIDLE", 5: "TCP_KEEPINTVL", 6: "TCP_KEEPCNT",
    7: "TCP_SYNCNT", 8: "TCP_LINGER2", 9: "TCP_DEFER_ACCEPT", 10: "TCP_WINDOW_CLAMP", 11: "TCP_INFO",
    12: "TCP_QUICKACK", 13: "TCP_CONGESTION", 14: "TCP_MD5SIG", 15: "TCP_COOKIE_TRANSACTIONS",
    16: "TCP_THIN_LINEAR_TIMEOUTS", 17: "TCP_THIN_DUPACK", 18: "TCP_USER_TIMEOUT", 19: "TCP_REPAIR",
    20: "TCP_REPAIR_QUEUE", 21: "TCP_QUEUE_SEQ", 22: "TCP_REPAIR_OPTIONS", 23: "TCP_FASTOPEN",
    24: "TCP_TIMESTAMP", 25: "TCP_NOTSENT_LOWAT", 26: "TCP_CC_INFO", 27: "TCP_SAVE_SYN", 28: "TCP_SAVED_SYN",
    29: "TCP_REPAIR_WINDOW", 30: "TCP_FASTOPEN_CONNECT", 31: "TCP_ULP", 32: "TCP_MD5SIG_EXT",
    33: "TCP_FASTOPEN_KEY", 34: "TCP_FASTOPEN_NO_COOKIE", 35: "TCP_ZEROCOPY_RECEIVE", 36: "TCP_INQ",
    37: "TCP_TX_DELAY",
}

# SOL_UDP options.
# From /usr/include/linux/udp.h
UDP_OPTIONS: dict[int, str] = {
    1: "UDP_CORK", 100: "UDP_ENCAP", 101: "UDP_NO_CHECK6_TX", 102: "UDP_NO_CHECK6_RX", 103: "UDP_SEGMENT",
    104: "UDP_GRO",
}

# SOL_NETLINK options.
# From /usr/include/linux/netlink.h
NETLINK_OPTIONS: dict[int, str] = {
    1: "NETLINK_ADD_MEMBERSHIP", 2: "NETLINK_DROP_MEMBERSHIP", 3: "NETLINK_PKTINFO",
    4: "NETLINK_BROADCAST_ERROR", 5: "NETLINK_NO_ENOBUFS", 6: "NETLINK_RX_RING", 7: "NETLINK_TX_RING",
    8: "NETLINK_LISTEN_ALL_NSID", 9: "NETLINK_LIST_MEMBERSHIPS", 10: "NETLINK_CAP_ACK", 11: "NETLINK_EXT_ACK",
    12: "NETLINK_GET_STRICT_CHK",
}

# shutdown()'s second argument.
# From /usr/include/x86_64-linux-gnu/sys/socket.h
SHUTDOWN_HOW: dict[int, str] = {
    0: "SHUT_RD", 1: "SHUT_WR", 2: "SHUT_RDWR",
}

# SOL_SOCKET control message types, named as strace names them.
# From /usr/include/x86_64-linux-gnu/bits/socket.h, /usr/include/asm-generic/socket.h
# Not in the uapi headers, from include/linux/socket.h of the kernel tree: SCM_SECURITY.
SCM_TYPES: dict[int, str] = {
    1: "SCM_RIGHTS", 2: "SCM_CREDENTIALS", 3: "SCM_SECURITY", 29: "SO_TIMESTAMP_OLD",
    35: "SO_TIMESTAMPNS_OLD", 37: "SO_TIMESTAMPING_OLD", 41: "SO_WIFI_STATUS",
    54: "SCM_TIMESTAMPING_OPT_STATS", 58: "SCM_TIMESTAMPING_PKTINFO", 61: "SO_TXTIME", 63: "SO_TIMESTAMP_NEW",
    64: "SO_TIMESTAMPNS_NEW", 65: "SO_TIMESTAMPING_NEW",
}

# fcntl() commands (x86_64 still names the 32-bit *LK64 ones).
# From /usr/include/asm-generic/fcntl.h, /usr/include/linux/fcntl.h
# Left out because strace 6.1 prints them as numbers: F_GET_FILE_RW_HINT, F_GET_RW_HINT, F_SET_FILE_RW_HINT,
# F_SET_RW_HINT.
FCNTL_COMMANDS: dict[int, str] = {
    0: "F_DUPFD", 1: "F_GETFD", 2: "F_SETFD", 3: "F_GETFL", 4: "F_SETFL", 5: "F_GETLK", 6: "F_SETLK",
    7: "F_SETLKW", 8: "F_SETOWN", 9: "F_GETOWN", 10: "F_SETSIG", 11: "F_GETSIG", 12: "F_GETLK64",
    13: "F_SETLK64", 14: "F_SETLKW64", 15: "F_SETOWN_EX", 16: "F_GETOWN_EX", 17: "F_GETOWNER_UIDS",
    36: "F_OFD_GETLK", 37: "F_OFD_SETLK", 38: "F_OFD_SETLKW", 1024: "F_SETLEASE", 1025: "F_GETLEASE",
    1026: "F_NOTIFY", 1029: "F_CANCELLK", 1030: "F_DUPFD_CLOEXEC", 1031: "F_SETPIPE_SZ", 1032: "F_GETPIPE_SZ",
    1033: "F_ADD_SEALS", 1034: "F_GET_SEALS",
}

# dup3()'s only flag.
# From /usr/include/asm-generic/fcntl.h
O_FLAGS: dict[int, str] = {
    0x80000: "O_CLOEXEC",
}

# close_range() flags.
# From /usr/include/linux/close_range.h
CLOSE_RANGE_FLAGS: dict[int, str] = {
    0x2: "CLOSE_RANGE_UNSHARE", 0x4: "CLOSE_RANGE_CLOEXEC",
}

# clone() and unshare() flags (unshare(CLONE_FILES) gives a thread its own descriptors).
# From /usr/include/linux/sched.h
CLONE_FLAGS: dict[int, str] = {
    0x80: "CLONE_NEWTIME", 0x100: "CLONE_VM", 0x200: "CLONE_FS", 0x400: "CLONE_FILES", 0x800: "CLONE_SIGHAND",
    0x1000: "CLONE_PIDFD", 0x2000: "CLONE_PTRACE", 0x4000: "CLONE_VFORK", 0x8000: "CLONE_PARENT",
    0x10000: "CLONE_THREAD", 0x20000: "CLONE_NEWNS", 0x40000: "CLONE_SYSVSEM", 0x80000: "CLONE_SETTLS",
    0x100000: "CLONE_PARENT_SETTID", 0x200000: "CLONE_CHILD_CLEARTID", 0x400000: "CLONE_DETACHED",
    0x800000: "CLONE_UNTRACED", 0x1000000: "CLONE_CHILD_SETTID", 0x2000000: "CLONE_NEWCGROUP",
    0x4000000: "CLONE_NEWUTS", 0x8000000: "CLONE_NEWIPC", 0x10000000: "CLONE_NEWUSER",
    0x20000000: "CLONE_NEWPID", 0x40000000: "CLONE_NEWNET", 0x80000000: "CLONE_IO",
    0x100000000: "CLONE_CLEAR_SIGHAND", 0x200000000: "CLONE_INTO_CGROUP",
}

# errno values; the kernel-internal ones show up as ? ERESTART* returns.
# From /usr/include/asm-generic/errno-base.h, /usr/include/asm-generic/errno.h
# Not in the uapi headers, from include/linux/errno.h of the kernel tree: ERESTARTSYS, ERESTARTNOINTR,
# ERESTARTNOHAND, ENOIOCTLCMD, ERESTART_RESTARTBLOCK, EPROBE_DEFER, EOPENSTALE, EBADHANDLE, ENOTSYNC,
# EBADCOOKIE, ENOTSUPP, ETOOSMALL, ESERVERFAULT, EBADTYPE, EJUKEBOX, EIOCBQUEUED, ERECALLCONFLICT.
ERRNO_NAMES: dict[int, str] = {
    1: "EPERM", 2: "ENOENT", 3: "ESRCH", 4: "EINTR", 5: "EIO", 6: "ENXIO", 7: "E2BIG", 8: "ENOEXEC",
    9: "EBADF", 10: "ECHILD", 11: "EAGAIN", 12: "ENOMEM", 13: "EACCES", 14: "EFAULT", 15: "ENOTBLK",
    16: "EBUSY", 17: "EEXIST", 18: "EXDEV", 19: "ENODEV", 20: "ENOTDIR", 21: "EISDIR", 22: "EINVAL",
    23: "ENFILE", 24: "EMFILE", 25: "ENOTTY", 26: "ETXTBSY", 27: "EFBIG", 28: "ENOSPC", 29: "ESPIPE",
    30: "EROFS", 31: "EMLINK", 32: "EPIPE", 33: "EDOM", 34: "ERANGE", 35: "EDEADLK", 36: "ENAMETOOLONG",
    37: "ENOLCK", 38: "ENOSYS", 39: "ENOTEMPTY", 40: "ELOOP", 42: "ENOMSG", 43: "EIDRM", 44: "ECHRNG",
    45: "EL2NSYNC", 46: "EL3HLT", 47: "EL3RST", 48: "ELNRNG", 49: "EUNATCH", 50: "ENOCSI", 51: "EL2HLT",
    52: "EBADE", 53: "EBADR", 54: "EXFULL", 55: "ENOANO", 56: "EBADRQC", 57: "EBADSLT", 59: "EBFONT",
    60: "ENOSTR", 61: "ENODATA", 62: "ETIME", 63: "ENOSR", 64: "ENONET", 65: "ENOPKG", 66: "EREMOTE",
    67: "ENOLINK", 68: "EADV", 69: "ESRMNT", 70: "ECOMM", 71: "EPROTO", 72: "EMULTIHOP", 73: "EDOTDOT",
    74: "EBADMSG", 75: "EOVERFLOW", 76: "ENOTUNIQ", 77: "EBADFD", 78: "EREMCHG", 79: "ELIBACC", 80: "ELIBBAD",
    81: "ELIBSCN", 82: "ELIBMAX", 83: "ELIBEXEC", 84: "EILSEQ", 85: "ERESTART", 86: "ESTRPIPE", 87: "EUSERS",
    88: "ENOTSOCK", 89: "EDESTADDRREQ", 90: "EMSGSIZE", 91: "EPROTOTYPE", 92: "ENOPROTOOPT",
    93: "EPROTONOSUPPORT", 94: "ESOCKTNOSUPPORT", 95: "EOPNOTSUPP", 96: "EPFNOSUPPORT", 97: "EAFNOSUPPORT",
    98: "EADDRINUSE", 99: "EADDRNOTAVAIL", 100: "ENETDOWN", 101: "ENETUNREACH", 102: "ENETRESET",
    103: "ECONNABORTED", 104: "ECONNRESET", 105: "ENOBUFS", 106: "EISCONN", 107: "ENOTCONN", 108: "ESHUTDOWN",
    109: "ETOOMANYREFS", 110: "ETIMEDOUT", 111: "ECONNREFUSED", 112: "EHOSTDOWN", 113: "EHOSTUNREACH",
    114: "EALREADY", 115: "EINPROGRESS", 116: "ESTALE", 117: "EUCLEAN", 118: "ENOTNAM", 119: "ENAVAIL",
    120: "EISNAM", 121: "EREMOTEIO", 122: "EDQUOT", 123: "ENOMEDIUM", 124: "EMEDIUMTYPE", 125: "ECANCELED",
    126: "ENOKEY", 127: "EKEYEXPIRED", 128: "EKEYREVOKED", 129: "EKEYREJECTED", 130: "EOWNERDEAD",
    131: "ENOTRECOVERABLE", 132: "ERFKILL", 133: "EHWPOISON", 512: "ERESTARTSYS", 513: "ERESTARTNOINTR",
    514: "ERESTARTNOHAND", 515: "ENOIOCTLCMD", 516: "ERESTART_RESTARTBLOCK", 517: "EPROBE_DEFER",
    518: "EOPENSTALE", 521: "EBADHANDLE", 522: "ENOTSYNC", 523: "EBADCOOKIE", 524: "ENOTSUPP",
    525: "ETOOSMALL", 526: "ESERVERFAULT", 527: "EBADTYPE", 528: "EJUKEBOX", 529: "EIOCBQUEUED",
    530: "ERECALLCONFLICT",
}

# Signal numbers 1-32; strace prints 33-64 as SIGRT_<n-32>.
# From /usr/include/x86_64-linux-gnu/asm/signal.h
SIGNAL_NAMES: dict[int, str] = {
    1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE",
    9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2", 13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM",
    16: "SIGSTKFLT", 17: "SIGCHLD", 18: "SIGCONT", 19: "SIGSTOP", 20: "SIGTSTP", 21: "SIGTTIN", 22: "SIGTTOU",
    23: "SIGURG", 24: "SIGXCPU", 25: "SIGXFSZ", 26: "SIGVTALRM", 27: "SIGPROF", 28: "SIGWINCH", 29: "SIGIO",
    30: "SIGPWR", 31: "SIGSYS", 32: "SIGRTMIN",
}

# errno texts: glibc's strerror(), which strace prints, and strace's own words for the
# restart codes.  Numbers whose text would be "Unknown error N" are left out.
ERRNO_MESSAGES: dict[int, str] = {
    1: "Operation not permitted", 2: "No such file or directory", 3: "No such process",
    4: "Interrupted system call", 5: "Input/output error", 6: "No such device or address",
    7: "Argument list too long", 8: "Exec format error", 9: "Bad file descriptor", 10: "No child processes",
    11: "Resource temporarily unavailable", 12: "Cannot allocate memory", 13: "Permission denied",
    14: "Bad address", 15: "Block device required", 16: "Device or resource busy", 17: "File exists",
    18: "Invalid cross-device link", 19: "No such device", 20: "Not a directory", 21: "Is a directory",
    22: "Invalid argument", 23: "Too many open files in system", 24: "Too many open files",
    25: "Inappropriate ioctl for device", 26: "Text file busy", 27: "File too large",
    28: "No space left on device", 29: "Illegal seek", 30: "Read-only file system", 31: "Too many links",
    32: "Broken pipe", 33: "Numerical argument out of domain", 34: "Numerical result out of range",
    35: "Resource deadlock avoided", 36: "File name too long", 37: "No locks available",
    38: "Function not implemented", 39: "Directory not empty", 40: "Too many levels of symbolic links",
    42: "No message of desired type", 43: "Identifier removed", 44: "Channel number out of range",
    45: "Level 2 not synchronized", 46: "Level 3 halted", 47: "Level 3 reset", 48: "Link number out of range",
    49: "Protocol driver not attached", 50: "No CSI structure available", 51: "Level 2 halted",
    52: "Invalid exchange", 53: "Invalid request descriptor", 54: "Exchange full", 55: "No anode",
    56: "Invalid request code", 57: "Invalid slot", 59: "Bad font file format", 60: "Device not a stream",
    61: "No data available", 62: "Timer expired", 63: "Out of streams resources",
    64: "Machine is not on the network", 65: "Package not installed", 66: "Object is remote",
    67: "Link has been severed", 68: "Advertise error", 69: "Srmount error",
    70: "Communication error on send", 71: "Protocol error", 72: "Multihop attempted",
    73: "RFS specific error", 74: "Bad message", 75: "Value too large for defined data type",
    76: "Name not unique on network", 77: "File descriptor in bad state", 78: "Remote address changed",
    79: "Can not access a needed shared library", 80: "Accessing a corrupted shared library",
    81: ".lib section in a.out corrupted", 82: "Attempting to link in too many shared libraries",
    83: "Cannot exec a shared library directly", 84: "Invalid or incomplete multibyte or wide character",
    85: "Interrupted system call should be restarted", 86: "Streams pipe error", 87: "Too many users",
    88: "Socket operation on non-socket", 89: "Destination address required", 90: "Message too long",
    91: "Protocol wrong type for socket", 92: "Protocol not available", 93: "Protocol not supported",
    94: "Socket type not supported", 95: "Operation not supported", 96: "Protocol family not supported",
    97: "Address family not supported by protocol", 98: "Address already in use",
    99: "Cannot assign requested address", 100: "Network is down", 101: "Network is unreachable",
    102: "Network dropped connection on reset", 103: "Software caused connection abort",
    104: "Connection reset by peer", 105: "No buffer space available",
    106: "Transport endpoint is already connected", 107: "Transport endpoint is not connected",
    108: "Cannot send after transport endpoint shutdown", 109: "Too many references: cannot splice",
    110: "Connection timed out", 111: "Connection refused", 112: "Host is down", 113: "No route to host",
    114: "Operation already in progress", 115: "Operation now in progress", 116: "Stale file handle",
    117: "Structure needs cleaning", 118: "Not a XENIX named type file", 119: "No XENIX semaphores available",
    120: "Is a named type file", 121: "Remote I/O error", 122: "Disk quota exceeded", 123: "No medium found",
    124: "Wrong medium type", 125: "Operation canceled", 126: "Required key not available",
    127: "Key has expired", 128: "Key has been revoked", 129: "Key was rejected by service",
    130: "Owner died", 131: "State not recoverable", 132: "Operation not possible due to RF-kill",
    133: "Memory page has hardware error", 512: "To be restarted if SA_RESTART is set",
    513: "To be restarted", 514: "To be restarted if no handler", 516: "Interrupted by signal",
}

# --- END GENERATED TABLES ---

_U32 = 0xFFFFFFFF
_U64 = 0xFFFFFFFFFFFFFFFF

# Address families the functions below switch on (values from ADDRESS_FAMILIES).
AF_UNIX = 1
AF_INET = 2
AF_INET6 = 10
AF_IRDA = 23
AF_NETLINK = 16
AF_PACKET = 17
AF_CAN = 29
AF_RXRPC = 33

SOL_IP = 0
SOL_SOCKET = 1
SOL_TCP = 6
SOL_UDP = 17
SOL_IPV6 = 41
SOL_NETLINK = 270

# Option names per level, valid for both getsockopt and setsockopt.
SOCKET_OPTIONS: dict[int, dict[int, str]] = {
    SOL_SOCKET: SO_OPTIONS,
    SOL_IP: IP_OPTIONS,
    SOL_IPV6: IPV6_OPTIONS,
    SOL_TCP: TCP_OPTIONS,
    SOL_UDP: UDP_OPTIONS,
    SOL_NETLINK: NETLINK_OPTIONS,
}
# Numbers whose name depends on the direction (strace decodes the two calls with different tables).
SOCKET_GET_OPTIONS: dict[int, dict[int, str]] = {
    SOL_SOCKET: SO_GET_OPTIONS, SOL_IP: IP_GET_OPTIONS, SOL_IPV6: IPV6_GET_OPTIONS,
}
SOCKET_SET_OPTIONS: dict[int, dict[int, str]] = {
    SOL_SOCKET: SO_SET_OPTIONS, SOL_IP: IP_SET_OPTIONS, SOL_IPV6: IPV6_SET_OPTIONS,
}
# What an unknown option of a level with a table is called.
_OPTION_UNKNOWN = {
    SOL_SOCKET: "SO_???", SOL_IP: "IP_???", SOL_IPV6: "IPV6_???", SOL_TCP: "TCP_???",
    SOL_UDP: "UDP_???", SOL_NETLINK: "NETLINK_???",
}

# Restart codes: the call did not really fail, so strace shows "= ?" instead of "= -1".
_RESTART_CODES = frozenset({512, 513, 514, 516})

SOCK_TYPE_MASK = 0xF


def xval(value: int, table: Mapping[int, str], unknown: str) -> str:
    """The name of value, or ``unknown(value)`` in decimal, e.g. ``AF_???(42)``.

    One spelling for every unknown constant keeps traces readable and greppable;
    a table is never consulted in a way that could raise.
    """
    name = table.get(value)
    return name if name is not None else f"{unknown}({value})"


def flags(value: int, table: Mapping[int, str], unknown_prefix: str) -> str:
    """A bit set as strace prints it: ``MSG_DONTWAIT|MSG_NOSIGNAL``, ``0`` for none.

    Names come in table order (strace's order, not always by value); bits no name
    covers are appended as one hex number, and when nothing had a name strace adds
    a comment: ``0x100000 /* MSG_??? */``.  unknown_prefix may be ``"MSG_"`` or
    ``"MSG_???"``.  A negative value is taken as a 32-bit C int.
    """
    if value < 0:
        value &= _U32
    if value == 0:
        return "0"
    names: list[str] = []
    rest = value
    for bit, name in table.items():
        if bit and rest & bit == bit:
            names.append(name)
            rest &= ~bit
    if rest:
        if names:
            names.append(f"{rest:#x}")
        else:
            marker = unknown_prefix if unknown_prefix.endswith("???") else unknown_prefix + "???"
            names.append(f"{rest:#x} /* {marker} */")
    return "|".join(names)


def socket_type(value: int) -> str:
    """socket()'s type: the base type, then SOCK_CLOEXEC, then SOCK_NONBLOCK.

    strace only splits off the base type when it knows it; otherwise the whole
    value goes through the flag printer (``0xb /* SOCK_??? */``, ``SOCK_NONBLOCK|0xf``).
    """
    value &= _U32
    base = SOCKET_TYPES.get(value & SOCK_TYPE_MASK)
    if base is None:
        return flags(value, SOCKET_TYPE_FLAGS, "SOCK_???")
    rest = value & ~SOCK_TYPE_MASK
    return base if not rest else f"{base}|{flags(rest, SOCKET_TYPE_FLAGS, 'SOCK_???')}"


def protocol(family: int, value: int) -> str:
    """socket()'s protocol, decoded the way strace does for the given family.

    AF_INET/AF_INET6 use IPPROTO_*, AF_NETLINK NETLINK_*, AF_PACKET
    ``htons(ETH_P_*)``, AF_CAN CAN_*; other families print a plain unsigned
    number (strace names a few more families' protocols that sctrace leaves as
    numbers).  Like strace, the family is compared as the full register while
    names are looked up in its low 32 bits.
    """
    family &= _U64
    proto = value & _U32
    if family in (AF_INET, AF_INET6):
        return xval(proto, IP_PROTOCOLS, "IPPROTO_???")
    if family == AF_NETLINK:
        return xval(proto, NETLINK_PROTOCOLS, "NETLINK_???")
    if family == AF_PACKET:
        swapped = ((proto & 0xFF) << 8) | ((proto >> 8) & 0xFF)
        return f"htons({xval(swapped, ETHERNET_PROTOCOLS, 'ETH_P_???')})"
    if family == AF_CAN:
        return xval(proto, CAN_PROTOCOLS, "CAN_???")
    if family == AF_IRDA:  # strace decodes IrDA with the CAN table
        return xval(proto, CAN_PROTOCOLS, "IRDAPROTO_???")
    if family == AF_RXRPC:  # the protocol of an RxRPC socket is the transport's family
        return xval(proto, ADDRESS_FAMILIES, "AF_???")
    return str(value & _U64)


def sockopt_level(level: int) -> str:
    """A socket option level; strace's unknown marker here really has two question marks."""
    return xval(level & _U32, SOCKET_LEVELS, "SOL_??")


def sockopt_name(level: int, name: int, *, setting: bool = False) -> str:
    """An option name within its level, for getsockopt (default) or setsockopt (setting=True).

    Levels without a table print the number, as strace does for levels it has
    no table for; a few numbers (SO_GET_FILTER/SO_ATTACH_FILTER, the iptables
    ones) differ between the two directions.
    """
    level &= _U32
    name &= _U32
    table = SOCKET_OPTIONS.get(level)
    if table is None:
        return str(name)
    found = table.get(name)
    if found is None:
        found = (SOCKET_SET_OPTIONS if setting else SOCKET_GET_OPTIONS).get(level, {}).get(name)
    return found if found is not None else f"{_OPTION_UNKNOWN[level]}({name})"


def errno_name(n: int) -> str:
    """``EAGAIN`` for 11; ``E???(134)`` for a number the kernel does not name."""
    return xval(n, ERRNO_NAMES, "E???")


def errno_message(n: int) -> str:
    """The text strace puts in parentheses: glibc's strerror, strace's own for restart codes."""
    text = ERRNO_MESSAGES.get(n)
    return text if text is not None else f"Unknown error {n}"


def error_result(n: int) -> str:
    """Everything strace prints after ``= `` for a call that failed with errno n.

    ``-1 ECONNREFUSED (Connection refused)``; restart codes show ``?`` because the
    call will be retried (``? ERESTARTSYS (To be restarted if SA_RESTART is set)``);
    a number without a name is ``-1 (errno 134)``.
    """
    name = ERRNO_NAMES.get(n)
    if name is None:
        return f"-1 (errno {n})"
    return f"{'?' if n in _RESTART_CODES else '-1'} {name} ({errno_message(n)})"


def signal_name(n: int) -> str:
    """``SIGSEGV``; real-time signals as strace writes them (32 SIGRTMIN, 34 SIGRT_2); else the number."""
    name = SIGNAL_NAMES.get(n)
    if name is not None:
        return name
    if 32 < n <= 64:
        return f"SIGRT_{n - 32}"
    return str(n)
