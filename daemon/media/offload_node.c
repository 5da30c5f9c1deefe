/* Per-stream offload state on a list, see offload_node.h. */
#include "autoconfig.h"

#include <stdlib.h>

#include "daemon/media/offload_node.h"

void *offload_node_of(struct media_stream *s, struct offload_node **list, size_t size,
		      bool create)
{
	struct offload_node *n = s->engine_priv;

	if (n || !create)
		return n;
	n = calloc(1, size);
	if (!n)
		return NULL;
	n->s = s;
	n->next = *list;
	if (*list)
		(*list)->prev = n;
	*list = n;
	s->engine_priv = n;
	return n;
}

void offload_node_free(struct offload_node **list, struct offload_node *n)
{
	if (n->prev)
		n->prev->next = n->next;
	else
		*list = n->next;
	if (n->next)
		n->next->prev = n->prev;
	n->s->engine_priv = NULL;
	free(n);
}

void offload_leg_credit(struct media_leg *in, uint64_t packets, uint64_t bytes)
{
	in->rx_packets += packets;
	in->fwd_packets += packets;
	in->kernel_packets += packets;
	in->rx_bytes += bytes;
	in->fwd_bytes += bytes;
	in->kernel_bytes += bytes;
}
