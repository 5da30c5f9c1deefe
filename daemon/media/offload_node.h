/* The state an offload engine keeps per stream: hung on
 * media_stream.engine_priv and on a list of the engine's streams, so that
 * the engine can walk them (counters, purge, stop). Shared by the kernel
 * (offload.c) and conntrack (offload_ct.c) offloads; one stream belongs to
 * at most one of them. */
#ifndef SIPMASQ_OFFLOAD_NODE_H
#define SIPMASQ_OFFLOAD_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kmod-free-fallback/media.h"

/* The first member of every engine's per-stream struct. */
struct offload_node {
	struct media_stream *s;            /* the stream it belongs to; not owned */
	struct offload_node *prev, *next;  /* the engine's list */
};

/* offload_node_of: s's node (s->engine_priv), or, when it has none and
 * create is set, a new zeroed struct of size bytes (whose first member is a
 * struct offload_node) linked at the head of *list and hung on s. Returns
 * NULL when s has none and create is false, or out of memory. */
void *offload_node_of(struct media_stream *s, struct offload_node **list, size_t size,
		      bool create);

/* offload_node_free: unlink n from *list, take it off its stream and free
 * it (the whole struct it starts). */
void offload_node_free(struct offload_node **list, struct offload_node *n);

/* offload_leg_credit: fold packets/bytes a kernel engine forwarded for
 * what arrived on leg `in` into its counters: received, forwarded, and of
 * those forwarded by the kernel. */
void offload_leg_credit(struct media_leg *in, uint64_t packets, uint64_t bytes);

#endif
