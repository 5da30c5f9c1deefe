/* Request and response routing of the masquerading proxy.
 *
 * Direction: a request is "outgoing" when it comes from the private side
 * (arrived on if_inbound, from its subnet, from loopback, or from a
 * registered UA) and "incoming" otherwise, as in siproxd. Responses carry
 * their direction in sipmasq's Via branch. The proxy is transaction-
 * stateless (RFC 3261 16.11); calls and bindings are the only state. */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "daemon/acl.h"
#include "daemon/addr.h"
#include "daemon/calls.h"
#include "daemon/evloop.h"
#include "daemon/iface.h"
#include "daemon/log.h"
#include "daemon/registrations.h"
#include "daemon/sdp_rewrite.h"
#include "daemon/sip_msg.h"
#include "daemon/sip_proxy.h"
#include "daemon/sip_transport.h"
#include "daemon/via_stash.h"

/* How long a dialog binding (Contact of an unregistered caller) lives. */
#define DIALOG_BINDING_S 7200
#define RETRY_AFTER_S 10

static struct {
	const struct sipmasq_config *cfg;
	struct iface_side side[2];      /* by enum media_side */
	struct in_addr announce_pub;    /* host_outbound, else if_outbound's address */
	unsigned short port;
	uint64_t last_iface_ms;
	bool offline;                   /* proxy_init_offline: interfaces are fixed */
} px;

static const char *side_name(enum media_side s)
{
	return s == MEDIA_PRIVATE ? "private" : "public";
}

/* The address sipmasq shows toward a side (Via, Record-Route, Contact, SDP). */
static struct in_addr face(enum media_side s)
{
	return s == MEDIA_PUBLIC ? px.announce_pub : px.side[MEDIA_PRIVATE].addr;
}

static bool ip_is_ours(struct in_addr ip)
{
	return ip.s_addr == px.side[0].addr.s_addr || ip.s_addr == px.side[1].addr.s_addr ||
	       ip.s_addr == px.announce_pub.s_addr;
}

static bool uri_is_ours(const osip_uri_t *uri)
{
	unsigned short port;
	const char *host = sipmsg_uri_host_port(uri, &port);
	struct in_addr ip;

	return host && addr_is_numeric(host, &ip) && ip_is_ours(ip) && port == px.port;
}

/* The private side: what arrives on if_inbound (when it is not also
 * if_outbound), what comes from its subnet (also in front of a NAT router,
 * where one interface faces both sides and the router forwards the public
 * side without masquerading it), from this host itself (loopback or one of
 * its addresses: a PBX on the gateway), or from a registered UA. */
static enum media_side request_side(const struct sockaddr_in *src, int ifindex)
{
	bool split = px.side[MEDIA_PRIVATE].ifindex != px.side[MEDIA_PUBLIC].ifindex;

	if (split && ifindex && ifindex == px.side[MEDIA_PRIVATE].ifindex)
		return MEDIA_PRIVATE;
	if (iface_in_subnet(&px.side[MEDIA_PRIVATE], src->sin_addr))
		return MEDIA_PRIVATE;
	if ((ntohl(src->sin_addr.s_addr) >> 24) == 127 || ip_is_ours(src->sin_addr) ||
	    reg_known_source(src->sin_addr))
		return MEDIA_PRIVATE;
	return MEDIA_PUBLIC;
}

static void send_msg(osip_message_t *msg, const struct sockaddr_in *dst)
{
	char *buf = NULL, a[ADDR_STRLEN];
	size_t len;

	if (sipmsg_serialize(msg, &buf, &len) != 0) {
		log_ratelimited("serialize", 10, LOG_ERR, "cannot serialise a SIP message, dropped");
		return;
	}
	log_debug(DBCLASS_NETTRAF, "to %s:\n%.*s", addr_str(dst, a), (int)len, buf);
	sip_transport_send(dst, buf, len);
	osip_free(buf);
}

/* ua_string (siproxd): what the public side sees of the private UAs'
 * software. User-Agent and Server headers already present get the value;
 * none is added, so sipmasq announces no version of its own. */
static void ua_masquerade(osip_message_t *msg)
{
	static const char *const names[] = { "user-agent", "server" };

	if (!px.cfg->ua_string[0])
		return;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		osip_header_t *h = NULL;

		for (int pos = 0; (pos = osip_message_header_get_byname(msg, names[i], pos, &h)) >= 0;
		     pos++) {
			osip_free(h->hvalue);
			h->hvalue = osip_strdup(px.cfg->ua_string);
		}
	}
}

/* Answer req ourselves, to where it came from (RFC 3581 symmetric response). */
static void reply(const osip_message_t *req, const struct sockaddr_in *src, int code,
		  unsigned retry_after)
{
	osip_message_t *resp;

	if (req->sip_method && !strcmp(req->sip_method, "ACK"))
		return;   /* ACK is never answered */
	if (sipmsg_make_response(req, code, retry_after, &resp) != 0)
		return;
	send_msg(resp, src);
	osip_message_free(resp);
}

/* "scheme:user@host[:port]": the AOR of a To/From URI without parameters. */
static void aor_of(const osip_uri_t *uri, char *buf, size_t n)
{
	snprintf(buf, n, "%s:%s%s%s%s%s", uri->scheme ? uri->scheme : "sip",
		 uri->username ? uri->username : "", uri->username ? "@" : "",
		 uri->host ? uri->host : "", uri->port ? ":" : "", uri->port ? uri->port : "");
}

/* Replace a URI in place by a parsed copy of `text`. */
static int uri_replace(osip_uri_t **uri, const char *text)
{
	osip_uri_t *u;

	if (osip_uri_init(&u) != 0)
		return -ENOMEM;
	if (osip_uri_parse(u, text) != 0) {
		osip_uri_free(u);
		return -EINVAL;
	}
	osip_uri_free(*uri);
	*uri = u;
	return 0;
}

/* The masqueraded form of a binding: sip:user@public:port;smqid=token. */
static int contact_masquerade_uri(osip_contact_t *c, const struct binding *b)
{
	char text[320], ip[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &px.announce_pub, ip, sizeof(ip));
	snprintf(text, sizeof(text), "sip:%s%s%s:%u;smqid=%s", b->user, b->user[0] ? "@" : "",
		 ip, px.port, b->token);
	return uri_replace(&c->url, text);
}

/* Masquerade every Contact of a message from the private side (dialogs). */
static void contacts_masquerade(osip_message_t *msg, const struct sockaddr_in *src)
{
	for (int i = 0; i < osip_list_size(&msg->contacts); i++) {
		osip_contact_t *c = osip_list_get(&msg->contacts, i);
		char real[256];
		struct binding *b;

		if (!c->url)
			continue;
		sipmsg_uri_str(c->url, real, sizeof(real));
		b = reg_bind(NULL, real, c->url->username, src, DIALOG_BINDING_S, false);
		if (b)
			contact_masquerade_uri(c, b);
	}
}

/* REGISTER from a private UA (RFC 3261 10.2): bind and masquerade contacts. */
/* Bind the Contacts of a REGISTER from a private UA (RFC 3261 10.3 steps
 * 6-7). masquerade: the REGISTER goes on to a registrar, with each Contact
 * replaced by its masqueraded form; otherwise sipmasq is the registrar. */
static void register_bind(osip_message_t *msg, const struct sockaddr_in *src, bool masquerade)
{
	int hdr_expires = sipmsg_expires(msg);
	char aor[256];

	aor_of(msg->to->url, aor, sizeof(aor));
	for (int i = 0; i < osip_list_size(&msg->contacts); i++) {
		osip_contact_t *c = osip_list_get(&msg->contacts, i);
		int expires = sipmsg_contact_expires(c);
		char real[256];
		struct binding *b;

		if (!c->url) {   /* Contact: * (only valid with Expires: 0) */
			if (hdr_expires == 0) {
				reg_unbind_aor(aor);
				log_info("unregister all contacts of %s", aor);
			}
			continue;
		}
		if (expires < 0)
			expires = hdr_expires;
		if (expires < 0) {
			expires = (int)px.cfg->default_expires;
			sipmsg_set_expires(msg, (unsigned)expires);
			hdr_expires = expires;
		}
		sipmsg_uri_str(c->url, real, sizeof(real));
		b = reg_bind(aor, real, c->url->username, src, (unsigned)expires, expires > 0);
		if (!b)
			continue;
		if (expires == 0)
			reg_unbind(b);
		else
			log_info("register %s -> %s (expires %d s) as smqid=%s", aor, real, expires,
				 b->token);
		if (masquerade)
			contact_masquerade_uri(c, b);
	}
	reg_save();
}

/* Registrar mode: a REGISTER addressed to sipmasq itself is answered here
 * with 200 and every live binding of the AOR (RFC 3261 10.3 step 8). */
static void register_local(osip_message_t *msg, const struct sockaddr_in *src)
{
	time_t now = time(NULL);
	osip_message_t *resp;
	char aor[256], value[320];

	register_bind(msg, src, false);
	if (sipmsg_make_response(msg, 200, 0, &resp) != 0)
		return;
	aor_of(msg->to->url, aor, sizeof(aor));
	for (const struct binding *b = reg_head(); b; b = b->next) {
		if (!b->registered || b->expires <= now || strcasecmp(b->aor, aor))
			continue;
		snprintf(value, sizeof(value), "<%s>;expires=%lld", b->contact,
			 (long long)(b->expires - now));
		osip_message_set_contact(resp, value);
	}
	send_msg(resp, src);
	osip_message_free(resp);
}

/* 2xx to a REGISTER: the registrar's view of our bindings (RFC 3261 10.3
 * step 8) goes back to the UA with its own Contact. */
static void register_response(osip_message_t *msg)
{
	int hdr_expires = sipmsg_expires(msg);
	bool ok = MSG_IS_STATUS_2XX(msg);

	for (int i = 0; i < osip_list_size(&msg->contacts); i++) {
		osip_contact_t *c = osip_list_get(&msg->contacts, i);
		const char *token = sipmsg_uri_param(c->url, "smqid");
		struct binding *b = token ? reg_find_token(token) : NULL;
		int expires;

		if (!b)
			continue;
		expires = sipmsg_contact_expires(c);
		if (expires < 0)
			expires = hdr_expires;
		if (ok && expires > 0 && b->expires > time(NULL))
			reg_set_expires(b, (unsigned)expires);
		uri_replace(&c->url, b->contact);
	}
	if (ok)
		reg_save();
}

/* Rewrite the SDP and follow the call state. Returns 0, or a SIP status to
 * answer a request with (503 range exhausted, 488 bad SDP), or -1 to drop a
 * response. */
static int media_handle(osip_message_t *msg, enum media_side from,
			const struct sockaddr_in *src)
{
	bool request = MSG_IS_REQUEST(msg);
	const char *method = request ? msg->sip_method : msg->cseq->method;
	struct sdp_addrs addrs;
	char cid[256], from_uri[256], to_uri[256], *out = NULL;
	size_t out_len;
	struct call *c;
	osip_body_t *body;
	int rc;

	sipmsg_call_id(msg, cid, sizeof(cid));
	c = calls_find(cid);
	if (request && !strcmp(method, "BYE")) {
		if (c)
			calls_end(c, "bye");
		return 0;
	}
	if (request && !strcmp(method, "CANCEL")) {
		if (c && !c->established)
			calls_end(c, "cancel");
		return 0;
	}
	body = sipmsg_sdp_body(msg);
	if (!c && ((request && !strcmp(method, "INVITE")) || (body && px.cfg->rtp_proxy_enable))) {
		c = calls_create(cid, sipmsg_uri_str(msg->from->url, from_uri, sizeof(from_uri)),
				 sipmsg_uri_str(msg->to->url, to_uri, sizeof(to_uri)),
				 request ? from : (enum media_side)!from);
		if (!c)
			return request ? 500 : -1;
	}
	if (!c)
		return 0;
	c->last_sip_ms = evloop_now_ms();
	/* Offer/answer traffic reopens media latching, also without SDP. */
	if (!strcmp(method, "INVITE") || !strcmp(method, "ACK") || !strcmp(method, "PRACK") ||
	    !strcmp(method, "UPDATE"))
		for (int i = 0; i < CALL_MAX_STREAMS; i++)
			media_stream_signal(c->stream[i]);
	if (!request && !strcmp(method, "INVITE")) {
		if (MSG_IS_STATUS_2XX(msg))
			c->established = true;
		else if (msg->status_code >= 300 && !c->established) {
			calls_end(c, "failure");
			return 0;
		}
	}
	if (!body || !px.cfg->rtp_proxy_enable)
		return 0;
	for (int s = 0; s < 2; s++) {
		addrs.bind[s] = px.side[s].addr;
		addrs.announce[s] = face((enum media_side)s);
	}
	addrs.signal_src = src->sin_addr;
	rc = sdp_rewrite(c, from, &addrs, body->body, body->length, &out, &out_len);
	if (rc == -ENOSPC) {
		log_ratelimited("rtp-exhausted", 10, LOG_WARNING,
				"RTP relay port range %u-%u exhausted: Call-ID %s refused",
				px.cfg->rtp_port_low, px.cfg->rtp_port_high, cid);
		if (!c->established)
			calls_end(c, "failure");
		return request ? 503 : -1;
	}
	if (rc) {
		log_ratelimited("bad-sdp", 10, LOG_WARNING, "Call-ID %s: SDP from %s side %s",
				cid, side_name(from), rc == -EINVAL ? "unparseable" : "not rewritten");
		return request ? 488 : -1;
	}
	rc = sipmsg_replace_body(msg, out, out_len);
	free(out);
	return rc ? (request ? 500 : -1) : 0;
}

/* Drop the topmost Route entries that name sipmasq (loose routing, RFC 3261
 * 16.4; a double Record-Route leaves two of ours). */
static void routes_pop_ours(osip_message_t *msg)
{
	osip_route_t *r;

	while ((r = osip_list_get(&msg->routes, 0)) && uri_is_ours(r->url)) {
		osip_list_remove(&msg->routes, 0);
		osip_route_free(r);
	}
}

/* Next hop of a request: the topmost Route, else the Request-URI. */
static int next_hop(const osip_message_t *msg, struct sockaddr_in *dst)
{
	const osip_route_t *r = osip_list_get(&msg->routes, 0);
	const osip_uri_t *uri = r ? r->url : msg->req_uri;
	const char *maddr = sipmsg_uri_param(uri, "maddr");
	unsigned short port;
	const char *host = sipmsg_uri_host_port(uri, &port);

	if (maddr && *maddr)
		host = maddr;
	if (!host || !port)
		return -EINVAL;
	return addr_resolve(host, port, dst);
}

/* Where a request from the private side goes when it carries no Route of
 * its own (siproxd's order): the outbound_domain entry of its From-URI
 * host, else the outbound proxy. The Request-URI stays as it is. Returns
 * false when neither applies (the Request-URI decides). */
static bool outbound_proxy_for(const osip_message_t *msg, const char **host,
			       unsigned short *port)
{
	const struct sipmasq_config *cfg = px.cfg;
	const char *from_host = msg->from && msg->from->url ? msg->from->url->host : NULL;

	for (unsigned i = 0; from_host && i < cfg->outbound_domain_name.n; i++) {
		if (!strcasecmp(from_host, cfg->outbound_domain_name.item[i])) {
			*host = cfg->outbound_domain_host.item[i];
			/* config_check made the lists parallel and the ports valid. */
			*port = addr_parse_port(cfg->outbound_domain_port.item[i], 5060);
			return true;
		}
	}
	if (cfg->outbound_proxy_host[0]) {
		*host = cfg->outbound_proxy_host;
		*port = cfg->outbound_proxy_port;
		return true;
	}
	return false;
}

/* Next hop of a request from the private side: a Route that is not ours
 * (ours were popped), the outbound proxies, then the Request-URI. A
 * Request-URI naming sipmasq itself is kept, to be answered here. */
static int next_hop_outgoing(const osip_message_t *msg, struct sockaddr_in *dst)
{
	const char *host;
	unsigned short port;

	if (osip_list_size(&msg->routes) == 0 && !uri_is_ours(msg->req_uri) &&
	    outbound_proxy_for(msg, &host, &port)) {
		log_debug(DBCLASS_PROXY, "%s to outbound proxy %s:%u", msg->sip_method, host,
			  port);
		return addr_resolve(host, port, dst);
	}
	return next_hop(msg, dst);
}

static bool has_to_tag(const osip_message_t *msg)
{
	osip_generic_param_t *tag = NULL;

	return osip_to_get_tag(msg->to, &tag) == 0 && tag;
}

/* The binding an incoming request is for: the smqid of a masqueraded
 * Contact, else a registered user at our address, else a registered AOR. */
static struct binding *incoming_target(const osip_message_t *msg)
{
	const char *token = sipmsg_uri_param(msg->req_uri, "smqid");
	char aor[256];
	struct binding *b;

	if (token)
		return reg_find_token(token);
	if (uri_is_ours(msg->req_uri) && (b = reg_find_user(msg->req_uri->username)))
		return b;
	aor_of(msg->req_uri, aor, sizeof(aor));
	if ((b = reg_find_aor(aor)))
		return b;
	aor_of(msg->to->url, aor, sizeof(aor));
	return reg_find_aor(aor);
}

static bool dialog_creating(const osip_message_t *msg)
{
	const char *m = msg->sip_method;

	return !has_to_tag(msg) && (!strcmp(m, "INVITE") || !strcmp(m, "SUBSCRIBE") ||
				    !strcmp(m, "REFER") || !strcmp(m, "NOTIFY"));
}

/* Record-Route (RFC 3261 16.6 step 4) with the address the receiving side
 * can reach. Responses going the other way get that entry rewritten to the
 * address facing their side (record_route_face), so each party routes its
 * in-dialog requests to the sipmasq address it can reach, and the public
 * side never sees the private one. `to` is the side the request goes to. */
static void record_route(osip_message_t *msg, enum media_side to)
{
	sipmsg_record_route_push(msg, face(to), px.port);
}

/* Rewrite sipmasq's own Record-Route entries of a response going to `to`. */
static void record_route_face(osip_message_t *msg, enum media_side to)
{
	char text[64], ip[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, (struct in_addr[]){ face(to) }, ip, sizeof(ip));
	snprintf(text, sizeof(text), "sip:%s:%u;lr", ip, px.port);
	for (int i = 0; i < osip_list_size(&msg->record_routes); i++) {
		osip_record_route_t *rr = osip_list_get(&msg->record_routes, i);

		if (rr->url && uri_is_ours(rr->url))
			uri_replace(&rr->url, text);
	}
}

/* Returns 0 with *dst set, a SIP status to answer with, or -1 when sipmasq
 * answered itself. */
static int route_outgoing(osip_message_t *msg, const struct sockaddr_in *src,
			  struct sockaddr_in *dst)
{
	if (!strcmp(msg->sip_method, "REGISTER") && uri_is_ours(msg->req_uri)) {
		register_local(msg, src);
		return -1;   /* answered */
	}
	if (!strcmp(msg->sip_method, "REGISTER"))
		register_bind(msg, src, true);
	else
		contacts_masquerade(msg, src);
	if (dialog_creating(msg))
		record_route(msg, MEDIA_PUBLIC);
	if (next_hop_outgoing(msg, dst) != 0)
		return 404;
	if (ip_is_ours(dst->sin_addr) && dst->sin_port == htons(px.port))
		return !strcmp(msg->sip_method, "OPTIONS") ? 200 : 404;
	return 0;
}

static int route_incoming(osip_message_t *msg, struct sockaddr_in *dst)
{
	struct binding *b;

	if (!strcmp(msg->sip_method, "REGISTER"))
		return 403;   /* sipmasq is no registrar for the public side */
	b = incoming_target(msg);
	if (!b) {
		/* Not for a masqueraded contact: refuse, never relay (no open relay). */
		if (uri_is_ours(msg->req_uri) && !strcmp(msg->sip_method, "OPTIONS"))
			return 200;
		return 404;
	}
	if (uri_replace(&msg->req_uri, b->contact) != 0)
		return 500;
	*dst = b->src;
	if (dialog_creating(msg))
		record_route(msg, MEDIA_PRIVATE);
	return 0;
}

/* True if one of the request's Vias carries `branch`: this request went
 * through sipmasq in this very form already (RFC 3261 16.3 item 4). */
static bool via_loop(const osip_message_t *msg, const char *branch)
{
	for (int i = 0; i < osip_list_size(&msg->vias); i++) {
		const char *b = sipmsg_via_param(osip_list_get(&msg->vias, i), "branch");
		if (b && !strcmp(b, branch))
			return true;
	}
	return false;
}

/* hosts_allow_reg / hosts_allow_sip / hosts_deny_sip on the source of a
 * request, from either side. A refused request is dropped without an
 * answer (as siproxd does: a stranger learns nothing), with one
 * rate-limited line naming the address and the list that refused it. */
static bool access_permitted(const osip_message_t *msg, const struct sockaddr_in *src)
{
	const struct sipmasq_config *cfg = px.cfg;
	bool reg = !strcmp(msg->sip_method, "REGISTER");
	const char *list;
	char a[ADDR_STRLEN];

	if (acl_permits(&cfg->hosts_allow_reg, &cfg->hosts_allow_sip, &cfg->hosts_deny_sip,
			src->sin_addr, reg))
		return true;
	list = acl_match(&cfg->hosts_deny_sip, src->sin_addr) ? "hosts_deny_sip" :
	       reg ? "hosts_allow_reg" : "hosts_allow_sip";
	log_ratelimited("acl-refused", 10, LOG_NOTICE,
			"access denied: %s from %s refused by %s, dropped", msg->sip_method,
			addr_str(src, a), list);
	return false;
}

static void handle_request(osip_message_t *msg, const struct sockaddr_in *src, int ifindex)
{
	enum media_side from = request_side(src, ifindex), to = (enum media_side)!from;
	char branch[SIPMSG_BRANCH_LEN + 1], a[ADDR_STRLEN];
	struct sockaddr_in dst;
	int mf = sipmsg_max_forwards(msg), status;

	if (!access_permitted(msg, src))
		return;
	log_debug(DBCLASS_PROXY, "%s from %s (%s side)", msg->sip_method, addr_str(src, a),
		  side_name(from));
	if (mf == 0) {
		reply(msg, src, 483, 0);
		return;
	}
	sipmsg_set_max_forwards(msg, mf < 0 ? 70 : mf - 1);
	sipmsg_branch(msg, to == MEDIA_PUBLIC ? 'O' : 'I', branch);
	if (via_loop(msg, branch)) {
		reply(msg, src, 482, 0);
		return;
	}
	routes_pop_ours(msg);
	sipmsg_via_mark_received(msg, src);
	status = from == MEDIA_PRIVATE ? route_outgoing(msg, src, &dst) : route_incoming(msg, &dst);
	if (status < 0)
		return;   /* answered by sipmasq itself (registrar mode) */
	if (!status)
		status = media_handle(msg, from, src);
	if (status) {
		log_debug(DBCLASS_PROXY, "%s from %s answered %d", msg->sip_method,
			  addr_str(src, a), status);
		reply(msg, src, status, status == 503 ? RETRY_AFTER_S : 0);
		return;
	}
	/* Topology hiding: the public side sees only sipmasq's Via. */
	if (to == MEDIA_PUBLIC && via_stash_save(branch, msg, evloop_now_ms()) != 0) {
		reply(msg, src, 500, 0);
		return;
	}
	if (sipmsg_via_push(msg, face(to), px.port, branch) != 0)
		return;
	if (to == MEDIA_PUBLIC)
		ua_masquerade(msg);
	send_msg(msg, &dst);
}

static void handle_response(osip_message_t *msg, const struct sockaddr_in *src)
{
	osip_via_t *via = osip_list_get(&msg->vias, 0);
	const char *branch = sipmsg_via_param(via, "branch");
	size_t plen = strlen(SIPMSG_BRANCH_PREFIX);
	enum media_side to, from;
	struct sockaddr_in dst;
	char a[ADDR_STRLEN], our_branch[SIPMSG_BRANCH_LEN + 1];

	if (!branch || strncmp(branch, SIPMSG_BRANCH_PREFIX, plen) ||
	    (branch[plen] != 'O' && branch[plen] != 'I')) {
		log_ratelimited("stray-response", 10, LOG_INFO,
				"response from %s not sent through sipmasq, dropped", addr_str(src, a));
		return;
	}
	/* 'O': the request went to the public side, so its answer goes private. */
	to = branch[plen] == 'O' ? MEDIA_PRIVATE : MEDIA_PUBLIC;
	from = (enum media_side)!to;
	snprintf(our_branch, sizeof(our_branch), "%s", branch);   /* the pop frees it */
	sipmsg_via_pop(msg);
	if (to == MEDIA_PRIVATE && osip_list_size(&msg->vias) == 0 &&
	    via_stash_restore(our_branch, msg) != 0) {
		log_ratelimited("response-stash", 10, LOG_INFO,
				"response from %s for an unknown or expired transaction, dropped",
				addr_str(src, a));
		return;
	}
	via = osip_list_get(&msg->vias, 0);
	if (!via || sipmsg_via_response_dest(via, &dst) != 0) {
		log_ratelimited("response-via", 10, LOG_INFO,
				"response from %s has no usable Via below ours, dropped",
				addr_str(src, a));
		return;
	}
	if (to == MEDIA_PRIVATE && !strcmp(msg->cseq->method, "REGISTER"))
		register_response(msg);
	else if (to == MEDIA_PUBLIC)
		contacts_masquerade(msg, src);   /* the UA answered from src */
	record_route_face(msg, to);
	if (media_handle(msg, from, src) != 0)
		return;
	if (to == MEDIA_PUBLIC)
		ua_masquerade(msg);
	send_msg(msg, &dst);
}

static void proxy_rx(const char *buf, size_t len, const struct sockaddr_in *src, int ifindex)
{
	osip_message_t *msg;
	char a[ADDR_STRLEN];
	int rc;

	log_debug(DBCLASS_NETTRAF, "from %s:\n%.*s", addr_str(src, a), (int)len, buf);
	if (len < 4 || !strncmp(buf, "\r\n", 2))
		return;   /* keep-alive */
	rc = sipmsg_parse(buf, len, &msg);
	if (rc) {
		log_ratelimited("bad-sip", 10, LOG_INFO,
				"malformed SIP message from %s (%zu bytes): %s, dropped",
				addr_str(src, a), len,
				rc == -EBADMSG ? "unparseable" : rc == -EPROTO ?
				"missing or inconsistent mandatory header" : "unsupported SIP version");
		/* A request we can address an answer to gets one (RFC 3261 8.2). */
		if (msg && MSG_IS_REQUEST(msg) && osip_list_size(&msg->vias) > 0)
			reply(msg, src, rc == -EPROTONOSUPPORT ? 505 : 400, 0);
		if (msg)
			osip_message_free(msg);
		return;
	}
	if (MSG_IS_REQUEST(msg))
		handle_request(msg, src, ifindex);
	else
		handle_response(msg, src);
	osip_message_free(msg);
}

/* Re-read interface addresses; logs changes. Returns iface_lookup's code for
 * the side that failed first. */
static int refresh_interfaces(void)
{
	const char *names[2] = { px.cfg->if_inbound, px.cfg->if_outbound };
	int rc = 0;

	for (int s = 0; s < 2; s++) {
		struct iface_side now;
		int r = iface_lookup(names[s], &now);

		if (r == -ENODEV && !rc)
			rc = r;
		if (now.addr.s_addr != px.side[s].addr.s_addr) {
			char ip[INET_ADDRSTRLEN];
			inet_ntop(AF_INET, &now.addr, ip, sizeof(ip));
			if (now.addr.s_addr)
				log_notice("%s interface %s: address %s", side_name((enum media_side)s),
					   names[s], ip);
			else
				log_warn("%s interface %s has no IPv4 address", side_name((enum media_side)s),
					 names[s]);
		}
		px.side[s] = now;
	}
	px.announce_pub = px.side[MEDIA_PUBLIC].addr;
	if (px.cfg->host_outbound[0]) {
		struct sockaddr_in sa;
		if (addr_resolve(px.cfg->host_outbound, 0, &sa) == 0)
			px.announce_pub = sa.sin_addr;
		else
			log_ratelimited("host_outbound", 300, LOG_WARNING,
					"host_outbound %s does not resolve", px.cfg->host_outbound);
	}
	px.last_iface_ms = evloop_now_ms();
	return rc;
}

int proxy_init(const struct sipmasq_config *cfg)
{
	int rc;

	memset(&px, 0, sizeof(px));
	px.cfg = cfg;
	px.port = cfg->sip_listen_port;
	rc = refresh_interfaces();
	if (rc == -ENODEV) {
		log_err("%s: no such interface '%s'", cfg->config_file,
			px.side[MEDIA_PRIVATE].ifindex ? cfg->if_outbound : cfg->if_inbound);
		return rc;
	}
	calls_set_logging(cfg->log_calls);
	rc = sip_transport_open(px.port, proxy_rx);
	if (rc)
		log_err("cannot listen on UDP port %u: %s", px.port, strerror(-rc));
	return rc;
}

int proxy_init_offline(const struct sipmasq_config *cfg, const struct iface_side side[2])
{
	struct in_addr ip;

	memset(&px, 0, sizeof(px));
	px.cfg = cfg;
	px.port = cfg->sip_listen_port;
	px.offline = true;
	px.side[MEDIA_PRIVATE] = side[MEDIA_PRIVATE];
	px.side[MEDIA_PUBLIC] = side[MEDIA_PUBLIC];
	px.announce_pub = side[MEDIA_PUBLIC].addr;
	/* Numeric only: offline means no DNS either. */
	if (addr_is_numeric(cfg->host_outbound, &ip))
		px.announce_pub = ip;
	px.last_iface_ms = evloop_now_ms();
	calls_set_logging(cfg->log_calls);
	return 0;
}

void proxy_input(const char *buf, size_t len, const struct sockaddr_in *src, int ifindex)
{
	proxy_rx(buf, len, src, ifindex);
}

void proxy_tick(void)
{
	uint64_t now = evloop_now_ms();

	if (!px.offline && now - px.last_iface_ms >= 5000)
		refresh_interfaces();
	calls_expire(now, px.cfg->rtp_timeout);
	via_stash_expire(now);
	reg_expire(time(NULL));
}

void proxy_fini(bool handover)
{
	calls_fini(handover);
	via_stash_fini();
	sip_transport_close();
}
