/* Inside the conntrack engine: shared by conntrack.c (entries) and
 * conntrack_probe.c (what the kernel needs). Not for other callers. */
#ifndef SIPMASQ_CONNTRACK_PRIV_H
#define SIPMASQ_CONNTRACK_PRIV_H

#include "kmod-free-fallback/conntrack.h"

/* ct_tuple_exists: some entry (anybody's) holds the UDP tuple src -> dst in
 * either direction. Returns 1, 0, or -errno. */
int ct_tuple_exists(struct ct_engine *ce, const struct sockaddr_in *src,
		    const struct sockaddr_in *dst);

/* ct_tuple_delete: delete the entry (anybody's) that holds the UDP tuple
 * src -> dst in either direction. Returns 0 or -ENOENT. */
int ct_tuple_delete(struct ct_engine *ce, const struct sockaddr_in *src,
		    const struct sockaddr_in *dst);

#endif
