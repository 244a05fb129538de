/* wa_net.h - lists of addresses and networks, comma-separated: "10.0.0.0/8, 2001:db8::/32,
 * 127.0.0.1". Entries are IPv4 or IPv6 addresses, or networks with an explicit prefix length. */
#ifndef WA_NET_H
#define WA_NET_H

#include <stddef.h>

/* Checks every entry; -1 with errbuf naming the first bad one, 0 when all are good (an empty
 * list is good). Services check their lists at start and refuse to run with a bad one. */
int wa_netlist_check(const char *list, char *errbuf, size_t errsz);

/* 1 when s is an IPv4 or IPv6 address (text, no prefix length). */
int wa_net_is_address(const char *s);

/* 1 when ip (IPv4 or IPv6 text) is in list; an empty or NULL list matches nothing, and a
 * malformed entry matches nothing. */
int wa_netlist_match(const char *list, const char *ip);

#endif
