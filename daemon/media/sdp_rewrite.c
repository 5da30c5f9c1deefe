/* SDP rewriting on libosip2's SDP parser: streams are opened by m= index. */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <osipparser2/osip_port.h>
#include <osipparser2/sdp_message.h>

#include "daemon/base/addr.h"
#include "daemon/base/log.h"
#include "daemon/media/sdp_rewrite.h"

/* NUL bytes after a body handed to libosip2's SDP parser (see sdp_rewrite). */
#define SDP_PARSE_SLACK 4

static void str_replace(char **field, const char *value)
{
	osip_free(*field);
	*field = osip_strdup(value);
}

/* The media's connection: its own c= or else the session c=. */
static sdp_connection_t *media_conn(sdp_message_t *sdp, sdp_media_t *m)
{
	sdp_connection_t *c = osip_list_get(&m->c_connections, 0);

	return c ? c : sdp->c_connection;
}

static bool conn_is_ip4(const sdp_connection_t *c)
{
	return c && c->c_addr && c->c_addrtype && !strcasecmp(c->c_addrtype, "IP4");
}

static void conn_rewrite(sdp_connection_t *c, const char *ip)
{
	/* 0.0.0.0 is RFC 2543 hold: keep it, the party sends nothing. */
	if (conn_is_ip4(c) && strcmp(c->c_addr, "0.0.0.0"))
		str_replace(&c->c_addr, ip);
}

/* Drop attributes that carry the sender's own addresses; fix a=rtcp. */
static void attrs_rewrite(osip_list_t *attrs, unsigned rtcp_port)
{
	for (int i = 0; i < osip_list_size(attrs);) {
		sdp_attribute_t *at = osip_list_get(attrs, i);

		if (at->a_att_field && (!strcasecmp(at->a_att_field, "candidate") ||
					!strcasecmp(at->a_att_field, "remote-candidates"))) {
			osip_list_remove(attrs, i);
			sdp_attribute_free(at);
			continue;
		}
		if (rtcp_port && at->a_att_field && !strcasecmp(at->a_att_field, "rtcp")) {
			char v[12];

			snprintf(v, sizeof(v), "%u", rtcp_port);
			str_replace(&at->a_att_value, v);
		}
		i++;
	}
}

static int media_rewrite(struct call *call, int idx, enum media_side from,
			 const struct sdp_addrs *a, sdp_message_t *sdp, sdp_media_t *m,
			 const char *to_ip)
{
	enum media_side to = (enum media_side)!from;
	sdp_connection_t *conn = media_conn(sdp, m);
	uint16_t port = addr_parse_port(m->m_port, 0);
	struct media_stream *s;
	struct sockaddr_in peer;
	char pbuf[8], ep[ADDR_STRLEN];

	if (!port || idx >= CALL_MAX_STREAMS || !conn_is_ip4(conn))
		return 0;   /* rejected stream, or nothing we can relay */
	s = call->stream[idx];
	if (!s) {
		int rc = media_stream_open(a->bind[MEDIA_PRIVATE], a->bind[MEDIA_PUBLIC], &s);
		if (rc)
			return rc;
		call->stream[idx] = s;
	}
	/* Numeric only: a name in c= would block the loop in DNS; latching
	 * learns such a party's address from its first packet anyway. */
	memset(&peer, 0, sizeof(peer));
	if (addr_is_numeric(conn->c_addr, &peer.sin_addr) && peer.sin_addr.s_addr) {
		peer = addr_make(peer.sin_addr, port);
		media_stream_set_peer(s, from, &peer, a->signal_src);
	}
	snprintf(pbuf, sizeof(pbuf), "%u", ntohs(s->leg[to].local.sin_port));
	str_replace(&m->m_port, pbuf);
	for (int i = 0; i < osip_list_size(&m->c_connections); i++)
		conn_rewrite(osip_list_get(&m->c_connections, i), to_ip);
	attrs_rewrite(&m->a_attributes, ntohs(s->leg[to].local.sin_port) + 1u);
	log_debug(DBCLASS_RTP, "Call-ID %s m[%d] %s %s -> relay port %u", call->call_id,
		  idx, from == MEDIA_PRIVATE ? "private" : "public", addr_str(&peer, ep),
		  ntohs(s->leg[to].local.sin_port));
	return 0;
}

int sdp_rewrite(struct call *call, enum media_side from, const struct sdp_addrs *a,
                const char *in, size_t len, char **out, size_t *out_len)
{
	enum media_side to = (enum media_side)!from;
	sdp_message_t *sdp = NULL;
	char to_ip[INET_ADDRSTRLEN], *text = NULL, *copy;
	int rc = 0;

	/* Zeroed slack after the body: libosip2 5.3's sdp_message_parse reads
	 * past the terminating NUL when the body ends with an m= line without
	 * formats ("m=audio 5 RTP/AVP\n"; found by tests/fuzz/fuzz_sdp). */
	copy = calloc(1, len + SDP_PARSE_SLACK);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, in, len);
	if (sdp_message_init(&sdp) != 0) {
		free(copy);
		return -ENOMEM;
	}
	if (sdp_message_parse(sdp, copy) != 0) {
		rc = -EINVAL;
		goto out;
	}
	inet_ntop(AF_INET, &a->announce[to], to_ip, sizeof(to_ip));
	for (int i = 0; i < osip_list_size(&sdp->m_medias) && !rc; i++)
		rc = media_rewrite(call, i, from, a, sdp, osip_list_get(&sdp->m_medias, i), to_ip);
	if (rc)
		goto out;
	conn_rewrite(sdp->c_connection, to_ip);
	if (sdp->o_addrtype && !strcasecmp(sdp->o_addrtype, "IP4"))
		str_replace(&sdp->o_addr, to_ip);
	attrs_rewrite(&sdp->a_attributes, 0);
	if (sdp_message_to_str(sdp, &text) != 0 || !text) {
		rc = -EINVAL;
		goto out;
	}
	*out_len = strlen(text);
	*out = malloc(*out_len + 1);
	if (!*out)
		rc = -ENOMEM;
	else
		memcpy(*out, text, *out_len + 1);
	osip_free(text);
out:
	sdp_message_free(sdp);
	free(copy);
	return rc;
}
