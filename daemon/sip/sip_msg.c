/* libosip2 message helpers used by the proxy. */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/base/addr.h"
#include "daemon/base/log.h"
#include "daemon/sip/sip_msg.h"

int sipmsg_parse(const char *buf, size_t len, osip_message_t **out)
{
	osip_message_t *msg;

	*out = NULL;
	if (osip_message_init(&msg) != 0)
		return -ENOMEM;
	if (osip_message_parse(msg, buf, len) != 0) {
		/* libosip2 stops at the body when the datagram is shorter than
		 * Content-Length: a request whose headers were all read still
		 * gets its 400 (RFC 3261 18.3). */
		if (MSG_IS_REQUEST(msg) && msg->sip_method && msg->req_uri &&
		    osip_list_size(&msg->vias) > 0 && msg->from && msg->to && msg->call_id &&
		    msg->cseq)
			*out = msg;
		else
			osip_message_free(msg);
		return -EBADMSG;
	}
	*out = msg;
	/* RFC 3261 8.1.1: the headers every request and response carries. */
	if (osip_list_size(&msg->vias) < 1 || !msg->from || !msg->from->url ||
	    !msg->to || !msg->to->url || !msg->call_id || !msg->call_id->number ||
	    !msg->cseq || !msg->cseq->method || !msg->cseq->number)
		return -EPROTO;
	if (MSG_IS_REQUEST(msg)) {
		if (!msg->sip_method || !msg->req_uri || !msg->req_uri->host)
			return -EPROTO;
		/* RFC 3261 8.2 / RFC 4475 3.1.2.x: CSeq method must match. */
		if (strcmp(msg->cseq->method, msg->sip_method))
			return -EPROTO;
		if (!msg->sip_version || strcasecmp(msg->sip_version, "SIP/2.0"))
			return -EPROTONOSUPPORT;
	}
	return 0;
}

int sipmsg_serialize(osip_message_t *msg, char **out, size_t *len)
{
	osip_message_force_update(msg);
	if (osip_message_to_str(msg, out, len) != 0)
		return -EBADMSG;
	return 0;
}

const char *sipmsg_uri_host_port(const osip_uri_t *uri, unsigned short *port)
{
	if (!uri || !uri->host)
		return NULL;
	*port = addr_parse_port(uri->port, 5060);
	return uri->host;
}

const char *sipmsg_uri_param(const osip_uri_t *uri, const char *name)
{
	osip_uri_param_t *p = NULL;

	if (!uri || osip_uri_param_get_byname((osip_list_t *)&uri->url_params,
					      (char *)name, &p) != 0 || !p)
		return NULL;
	return p->gvalue ? p->gvalue : "";
}

const char *sipmsg_via_param(const osip_via_t *via, const char *name)
{
	osip_generic_param_t *p = NULL;

	if (!via || osip_via_param_get_byname((osip_via_t *)via, (char *)name, &p) != 0 || !p)
		return NULL;
	return p->gvalue ? p->gvalue : "";
}

/* Set (or add) a generic parameter's value; takes ownership of value. */
static void param_set(osip_list_t *params, const char *name, char *value)
{
	osip_generic_param_t *p = NULL;

	if (osip_generic_param_get_byname(params, (char *)name, &p) == 0 && p) {
		osip_free(p->gvalue);
		p->gvalue = value;
		return;
	}
	osip_generic_param_add(params, osip_strdup(name), value);
}

void sipmsg_via_mark_received(osip_message_t *msg, const struct sockaddr_in *src)
{
	osip_via_t *via = osip_list_get(&msg->vias, 0);
	char ip[INET_ADDRSTRLEN], port[8];

	if (!via)
		return;
	inet_ntop(AF_INET, &src->sin_addr, ip, sizeof(ip));
	if (!via->host || strcmp(via->host, ip) != 0)
		param_set(&via->via_params, "received", osip_strdup(ip));
	if (sipmsg_via_param(via, "rport")) {
		snprintf(port, sizeof(port), "%u", ntohs(src->sin_port));
		param_set(&via->via_params, "rport", osip_strdup(port));
		/* RFC 3581 section 4: with rport, received is always added. */
		param_set(&via->via_params, "received", osip_strdup(ip));
	}
}

/* FNV-1a, 64 bit: a stable, cheap hash for branch derivation (not a
 * security boundary: branches only need to be unique and repeatable). */
static uint64_t fnv1a(uint64_t h, const char *s)
{
	for (; s && *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h ^ 0xff;   /* field separator */
}

void sipmsg_branch(const osip_message_t *msg, char dir, char *out)
{
	const osip_via_t *via = osip_list_get(&msg->vias, 0);
	const char *in_branch = sipmsg_via_param(via, "branch");
	uint64_t h = 0xcbf29ce484222325ULL;
	char *ruri = NULL;

	if (in_branch && !strncmp(in_branch, "z9hG4bK", 7)) {
		h = fnv1a(h, in_branch);
		h = fnv1a(h, via->host);
		h = fnv1a(h, via->port);
	} else {
		/* RFC 2543 client: fall back to the transaction's identity. */
		osip_generic_param_t *tag = NULL;

		h = fnv1a(h, msg->call_id ? msg->call_id->number : NULL);
		h = fnv1a(h, msg->cseq ? msg->cseq->number : NULL);
		if (msg->from && osip_from_get_tag(msg->from, &tag) == 0 && tag)
			h = fnv1a(h, tag->gvalue);
		if (msg->req_uri && osip_uri_to_str(msg->req_uri, &ruri) == 0) {
			h = fnv1a(h, ruri);
			osip_free(ruri);
		}
	}
	/* ACK/CANCEL hash like the INVITE they belong to; other methods apart. */
	if (msg->sip_method && strcmp(msg->sip_method, "ACK") &&
	    strcmp(msg->sip_method, "CANCEL"))
		h = fnv1a(h, msg->sip_method);
	snprintf(out, SIPMSG_BRANCH_LEN + 1, SIPMSG_BRANCH_PREFIX "%c%016llx",
		 dir, (unsigned long long)h);
}

int sipmsg_via_push(osip_message_t *msg, struct in_addr host, unsigned short port,
                    enum sip_proto proto, const char *branch)
{
	osip_via_t *via;
	char ip[INET_ADDRSTRLEN], p[8];

	if (osip_via_init(&via) != 0)
		return -ENOMEM;
	inet_ntop(AF_INET, &host, ip, sizeof(ip));
	snprintf(p, sizeof(p), "%u", port);
	via_set_version(via, osip_strdup("2.0"));
	via_set_protocol(via, osip_strdup(sip_proto_name(proto)));
	via_set_host(via, osip_strdup(ip));
	via_set_port(via, osip_strdup(p));
	osip_via_set_branch(via, osip_strdup(branch));
	osip_via_param_add(via, osip_strdup("rport"), NULL);
	osip_list_add(&msg->vias, via, 0);
	return 0;
}

enum sip_proto sipmsg_via_proto(const osip_via_t *via)
{
	return via && via->protocol && !strcasecmp(via->protocol, "TCP") ? SIP_PROTO_TCP :
	       SIP_PROTO_UDP;
}

void sipmsg_via_set_proto(osip_message_t *msg, enum sip_proto proto)
{
	osip_via_t *via = osip_list_get(&msg->vias, 0);

	if (!via)
		return;
	osip_free(via->protocol);
	via_set_protocol(via, osip_strdup(sip_proto_name(proto)));
}

void sipmsg_via_mark_connection(osip_message_t *msg, const struct sockaddr_in *src)
{
	osip_via_t *via = osip_list_get(&msg->vias, 0);
	char ip[INET_ADDRSTRLEN], port[8];

	if (!via)
		return;
	inet_ntop(AF_INET, &src->sin_addr, ip, sizeof(ip));
	snprintf(port, sizeof(port), "%u", ntohs(src->sin_port));
	param_set(&via->via_params, "rport", osip_strdup(port));
	param_set(&via->via_params, "received", osip_strdup(ip));
}

void sipmsg_uri_set_param(osip_uri_t *uri, const char *name, const char *value)
{
	param_set(&uri->url_params, name, osip_strdup(value));
}

void sipmsg_via_pop(osip_message_t *msg)
{
	osip_via_t *via = osip_list_get(&msg->vias, 0);

	if (via) {
		osip_list_remove(&msg->vias, 0);
		osip_via_free(via);
	}
}

int sipmsg_record_route_push(osip_message_t *msg, struct in_addr host, unsigned short port)
{
	osip_record_route_t *rr;
	char value[64], ip[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &host, ip, sizeof(ip));
	snprintf(value, sizeof(value), "<sip:%s:%u;lr>", ip, port);
	if (osip_record_route_init(&rr) != 0)
		return -ENOMEM;
	if (osip_record_route_parse(rr, value) != 0) {
		osip_record_route_free(rr);
		return -EINVAL;
	}
	osip_list_add(&msg->record_routes, rr, 0);
	return 0;
}

static osip_header_t *header_find(osip_message_t *msg, const char *name)
{
	osip_header_t *h = NULL;

	if (osip_message_header_get_byname(msg, name, 0, &h) < 0)
		return NULL;
	return h;
}

static int header_int(osip_message_t *msg, const char *name)
{
	osip_header_t *h = header_find(msg, name);
	char *end;
	long v;

	if (!h || !h->hvalue)
		return -1;
	v = strtol(h->hvalue, &end, 10);
	if (end == h->hvalue || v < 0 || v > 0x7fffffff)
		return -1;
	return (int)v;
}

static void header_set_int(osip_message_t *msg, const char *name, int value)
{
	osip_header_t *h = header_find(msg, name);
	char buf[16];

	snprintf(buf, sizeof(buf), "%d", value);
	if (h) {
		osip_free(h->hvalue);
		h->hvalue = osip_strdup(buf);
	} else {
		osip_message_set_header(msg, name, buf);
	}
}

int sipmsg_max_forwards(osip_message_t *msg)
{
	return header_int(msg, "max-forwards");
}

void sipmsg_set_max_forwards(osip_message_t *msg, int value)
{
	header_set_int(msg, "Max-Forwards", value);
}

int sipmsg_expires(osip_message_t *msg)
{
	return header_int(msg, "expires");
}

void sipmsg_set_expires(osip_message_t *msg, unsigned seconds)
{
	header_set_int(msg, "Expires", (int)seconds);
}

int sipmsg_contact_expires(const osip_contact_t *c)
{
	osip_generic_param_t *p = NULL;
	char *end;
	long v;

	if (osip_contact_param_get_byname((osip_contact_t *)c, "expires", &p) != 0 ||
	    !p || !p->gvalue)
		return -1;
	v = strtol(p->gvalue, &end, 10);
	if (end == p->gvalue || v < 0 || v > 0x7fffffff)
		return -1;
	return (int)v;
}

osip_body_t *sipmsg_sdp_body(osip_message_t *msg)
{
	osip_body_t *body = NULL;
	osip_content_type_t *ct = msg->content_type;

	if (!ct || !ct->type || !ct->subtype || strcasecmp(ct->type, "application") ||
	    strcasecmp(ct->subtype, "sdp"))
		return NULL;
	if (osip_message_get_body(msg, 0, &body) < 0 || !body || !body->body ||
	    !body->length)
		return NULL;
	return body;
}

int sipmsg_replace_body(osip_message_t *msg, const char *body, size_t len)
{
	osip_list_special_free(&msg->bodies, (void (*)(void *))osip_body_free);
	if (msg->content_length) {
		osip_content_length_free(msg->content_length);
		msg->content_length = NULL;
	}
	return osip_message_set_body(msg, body, len) == 0 ? 0 : -ENOMEM;
}

const char *sipmsg_call_id(const osip_message_t *msg, char *buf, size_t n)
{
	const osip_call_id_t *cid = msg->call_id;

	if (!cid || !cid->number)
		snprintf(buf, n, "-");
	else if (cid->host)
		snprintf(buf, n, "%s@%s", cid->number, cid->host);
	else
		snprintf(buf, n, "%s", cid->number);
	return buf;
}

const char *sipmsg_uri_str(const osip_uri_t *uri, char *buf, size_t n)
{
	char *s = NULL;

	buf[0] = '\0';
	if (uri && osip_uri_to_str(uri, &s) == 0 && s) {
		snprintf(buf, n, "%s", s);
		osip_free(s);
	}
	return buf;
}

__attribute__((format(printf, 4, 0)))
static void osip_trace_bridge(const char *fi, int li, osip_trace_level_t level,
			      const char *chfr, va_list ap)
{
	char line[512];

	(void)level;
	if (!chfr)
		return;
	vsnprintf(line, sizeof(line), chfr, ap);
	line[strcspn(line, "\r\n")] = '\0';
	log_debug(DBCLASS_SIP, "libosip2 %s:%d: %s", fi ? fi : "?", li, line);
}

void sipmsg_trace_init(void)
{
	osip_trace_initialize_func(TRACE_LEVEL0, osip_trace_bridge);
	if (!(log_debug_mask & DBCLASS_SIP))
		for (int l = 0; l < END_TRACE_LEVEL; l++)
			osip_trace_disable_level((osip_trace_level_t)l);
}

bool sipmsg_to_tag_is_ours(const osip_message_t *msg)
{
	osip_generic_param_t *tag = NULL;

	return msg->to && osip_to_get_tag(msg->to, &tag) == 0 && tag && tag->gvalue &&
	       !strncmp(tag->gvalue, SIPMSG_OWN_TAG_PREFIX, strlen(SIPMSG_OWN_TAG_PREFIX));
}
