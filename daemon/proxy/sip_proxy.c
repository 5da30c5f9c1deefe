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

#include "daemon/base/acl.h"
#include "daemon/base/addr.h"
#include "daemon/proxy/auth.h"
#include "daemon/proxy/binding_hop.h"
#include "daemon/sip/callid_mark.h"
#include "daemon/media/calls.h"
#include "daemon/base/evloop.h"
#include "daemon/proxy/host_mask.h"
#include "daemon/base/iface.h"
#include "daemon/base/iface_watch.h"
#include "daemon/base/log.h"
#include "daemon/proxy/proxy_addresses.h"
#include "daemon/proxy/proxy_register.h"
#include "daemon/proxy/proxy_send.h"
#include "daemon/proxy/proxy_uri.h"
#include "daemon/proxy/registrations.h"
#include "daemon/dns/resolver.h"
#include "daemon/media/sdp_rewrite.h"
#include "daemon/sip/sip_hop.h"
#include "daemon/transport/sip_flood.h"
#include "daemon/sip/sip_msg.h"
#include "daemon/proxy/sip_proxy.h"
#include "daemon/transport/sip_send.h"
#include "daemon/transport/sip_tcp.h"
#include "daemon/transport/sip_transport.h"
#include "daemon/sip/sip_validate.h"
#include "daemon/proxy/via_stash.h"

/* The proxy's addresses: owned by this file (the transport's receive
 * callback carries no context), passed to every other proxy file. */
static struct proxy_addrs px;

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
	if ((ntohl(src->sin_addr.s_addr) >> 24) == 127 || proxy_ip_is_ours(&px, src->sin_addr) ||
	    reg_known_source(src->sin_addr))
		return MEDIA_PRIVATE;
	return MEDIA_PUBLIC;
}

/* sipmasq's own SIP address: sending there would loop. */
static bool addr_is_self(const struct sockaddr_in *dst)
{
	return proxy_ip_is_ours(&px, dst->sin_addr) && dst->sin_port == htons(px.port);
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

/* Rewrite the SDP and follow the call state. Returns 0, or a SIP status to
 * answer a request with (503 range exhausted or max_calls /
 * max_streams_per_call reached, 488 bad SDP), or -1 to drop a response. */
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
	if (body && px.cfg->rtp_proxy_enable &&
	    sipval_sdp_streams(body->body, body->length) > px.cfg->max_streams_per_call) {
		sipval_limit_hit("max_streams_per_call", px.cfg->max_streams_per_call, method, src);
		return request ? 503 : -1;
	}
	if (!c && ((request && !strcmp(method, "INVITE")) || (body && px.cfg->rtp_proxy_enable))) {
		if (calls_count() >= px.cfg->max_calls) {
			sipval_limit_hit("max_calls", px.cfg->max_calls, method, src);
			return request ? 503 : -1;
		}
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
		addrs.announce[s] = proxy_face(&px, (enum media_side)s);
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
				cid, proxy_side_name(from), rc == -EINVAL ? "unparseable" : "not rewritten");
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

	while ((r = osip_list_get(&msg->routes, 0)) && proxy_uri_is_ours(&px, r->url)) {
		osip_list_remove(&msg->routes, 0);
		osip_route_free(r);
	}
}

/* Next hop of a request: the topmost Route, else the Request-URI. */
static int next_hop(const osip_message_t *msg, struct sip_hop *hop)
{
	const osip_route_t *r = osip_list_get(&msg->routes, 0);

	return sip_hop_from_uri(r ? r->url : msg->req_uri, hop);
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
static int next_hop_outgoing(const osip_message_t *msg, struct sip_hop *hop)
{
	const char *host;
	unsigned short port;

	if (osip_list_size(&msg->routes) == 0 && !proxy_uri_is_ours(&px, msg->req_uri) &&
	    outbound_proxy_for(msg, &host, &port)) {
		log_debug(DBCLASS_PROXY, "%s to outbound proxy %s:%u", msg->sip_method, host,
			  port);
		if (sip_hop_set(hop, host, port) != 0)
			return -ENAMETOOLONG;
		if (host == px.cfg->outbound_proxy_host)
			hop->proto = (enum sip_proto)px.cfg->outbound_proxy_transport;
		return 0;
	}
	return next_hop(msg, hop);
}

static bool has_to_tag(const osip_message_t *msg)
{
	osip_generic_param_t *tag = NULL;

	return osip_to_get_tag(msg->to, &tag) == 0 && tag;
}

/* Was binding b registered at sipmasq itself (registrar mode: its AOR
 * names one of sipmasq's addresses)? */
static bool registered_here(const struct binding *b)
{
	osip_uri_t *aor;
	bool here;

	if (osip_uri_init(&aor) != 0)
		return false;
	here = osip_uri_parse(aor, b->aor) == 0 && aor->host && proxy_uri_is_ours(&px, aor);
	osip_uri_free(aor);
	return here;
}

/* A live registered binding whose AOR is uri's (scheme:user@host[:port]);
 * a port in uri that the AOR lacks is tried without. NULL for a URI
 * without a user part: an AOR always has one. */
static struct binding *binding_of_aor(const osip_uri_t *uri)
{
	char aor[256];
	struct binding *b;

	if (!uri || !uri->host || !uri->username)
		return NULL;
	proxy_aor_of(uri, aor, sizeof(aor));
	b = reg_find_aor(aor);
	if (!b && uri->port) {
		osip_uri_t bare = *uri;   /* shallow: only the port differs */

		bare.port = NULL;
		proxy_aor_of(&bare, aor, sizeof(aor));
		b = reg_find_aor(aor);
	}
	return b;
}

/* The binding an incoming request is for:
 *  1. the smqid of a masqueraded Contact (the Request-URI of a provider
 *     that routes to the Contact sipmasq registered);
 *  2. registrar mode: a user registered at sipmasq itself;
 *  3. without a (known) token, as siproxd does: the To URI's AOR, then the
 *     Request-URI's AOR, matched against the registered AORs. This finds
 *     the phones of a registration file inherited from siproxd, and those
 *     of providers that drop the Contact's parameters or put the dialled
 *     number in the Request-URI.
 * A user part alone at sipmasq's own address (user@public-address, what a
 * scanner such as svwar probes) finds nobody, unlike siproxd: every name
 * gets the same answer (no enumeration), and a caller must name the AOR,
 * provider's domain included. */
static struct binding *incoming_target(const osip_message_t *msg, const struct sockaddr_in *src)
{
	const char *token = sipmsg_uri_param(msg->req_uri, "smqid");
	struct binding *b = token ? reg_find_token(token) : NULL;

	if (b)
		return b;
	if (!token && proxy_uri_is_ours(&px, msg->req_uri)) {
		/* user@gateway without the token: a provider that drops the
		 * Contact's parameters, a trunk that puts the number there. As
		 * siproxd, by the user part; but only from a peer that answered
		 * sipmasq's own requests (the registrar, the provider), so a
		 * scanner learns nothing about which users exist. */
		b = reg_find_user(msg->req_uri->username);
		if (b && (registered_here(b) || flood_is_peer(src->sin_addr, evloop_now_ms())))
			return b;
	}
	b = binding_of_aor(msg->to ? msg->to->url : NULL);
	if (!b && !proxy_uri_is_ours(&px, msg->req_uri))
		b = binding_of_aor(msg->req_uri);   /* also user@masked_host (mask_host) */
	return b;
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
 * side never sees the private one. `to` is the side the request goes to.
 * The entry's smqrr parameter names its leg ('O' when the request went to
 * the public side, 'I' when it went to the private side, as in the Via
 * branch): a call hair-pinned through the provider passes sipmasq twice
 * and holds two entries of ours, each rewritten only at its own hop. */
static int record_route(osip_message_t *msg, enum media_side to)
{
	osip_record_route_t *rr;
	int rc = sipmsg_record_route_push(msg, proxy_face(&px, to), px.port);

	if (rc)
		return rc;
	rr = osip_list_get(&msg->record_routes, 0);
	osip_uri_uparam_add(rr->url, osip_strdup("smqrr"),
			    osip_strdup(to == MEDIA_PUBLIC ? "O" : "I"));
	return 0;
}

/* Rewrite sipmasq's own Record-Route entries of this hop (leg: the branch
 * letter of the response's Via) for a response going to `to`. */
static int record_route_face(osip_message_t *msg, enum media_side to, char leg)
{
	char text[80], ip[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, (struct in_addr[]){ proxy_face(&px, to) }, ip, sizeof(ip));
	snprintf(text, sizeof(text), "sip:%s:%u;lr;smqrr=%c", ip, px.port, leg);
	for (int i = 0; i < osip_list_size(&msg->record_routes); i++) {
		osip_record_route_t *rr = osip_list_get(&msg->record_routes, i);
		const char *entry_leg = rr->url ? sipmsg_uri_param(rr->url, "smqrr") : NULL;

		if (rr->url && proxy_uri_is_ours(&px, rr->url) && (!entry_leg || entry_leg[0] == leg) &&
		    proxy_uri_replace(&rr->url, text) != 0)
			return -ENOMEM;   /* the other side's face would stay in it */
	}
	return 0;
}

/* Returns 0 with *hop set, a SIP status to answer with, or -1 when sipmasq
 * answered itself. */
static int route_outgoing(osip_message_t *msg, const struct sockaddr_in *src,
			  struct sip_hop *hop)
{
	struct sockaddr_in dst;
	osip_message_t *challenge;
	int rc;

	bool is_register = !strcmp(msg->sip_method, "REGISTER");
	bool for_us = is_register && proxy_uri_is_ours(&px, msg->req_uri);

	/* proxy_auth_realm: as siproxd, the REGISTERs for which sipmasq is the
	 * registrar; those it forwards only with proxy_auth_forwarded (the
	 * registrar behind usually challenges them itself). */
	if (is_register && (for_us || px.cfg->proxy_auth_forwarded) &&
	    (rc = auth_check_request(msg, src, evloop_now_ms(), &challenge)) != 0) {
		if (rc < 0)
			return 500;
		proxy_send_to(&px, challenge, src);
		osip_message_free(challenge);
		return -1;   /* answered: 407 */
	}
	if (for_us) {
		proxy_register_local(&px, msg, src);
		return -1;   /* answered */
	}
	int status = proxy_register_status(!strcmp(msg->sip_method, "REGISTER") ?
					   proxy_register_bind(&px, msg, src, true) :
					   proxy_contacts_masquerade(&px, msg, src));

	if (status)
		return status;
	if (dialog_creating(msg) && record_route(msg, MEDIA_PUBLIC) != 0)
		return 500;
	if (next_hop_outgoing(msg, hop) != 0)
		return 404;
	/* A next hop naming sipmasq: known here when numeric (or cached); a
	 * name is checked when it resolves (send_failed, SIP_SEND_SELF). */
	if (resolver_cached(hop, &dst) == 0 && addr_is_self(&dst))
		return sipval_local_status(msg);
	return 0;
}

static int route_incoming(osip_message_t *msg, const struct sockaddr_in *src,
			  struct sip_hop *hop)
{
	struct binding *b;

	if (!strcmp(msg->sip_method, "REGISTER"))
		return 403;   /* sipmasq is no registrar for the public side */
	b = incoming_target(msg, src);
	if (!b) {
		/* Not for a masqueraded contact: refuse, never relay (no open relay). */
		return proxy_uri_is_ours(&px, msg->req_uri) ? sipval_local_status(msg) : 404;
	}
	if (proxy_uri_replace(&msg->req_uri, b->contact) != 0)
		return 500;
	/* Its live connection, else its Contact, else where it sends from. */
	if (binding_hop(b, msg->req_uri, hop) != 0)
		return 404;
	if (dialog_creating(msg) && record_route(msg, MEDIA_PRIVATE) != 0)
		return 500;
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

/* use_rport (siproxd's bit mask): sipmasq's Via asks for rport (RFC 3581)
 * toward the private side when bit 0 is set, toward the public side when
 * bit 1 is; otherwise the rport parameter sipmsg_via_push added goes. */
static void via_apply_use_rport(osip_message_t *msg, enum media_side to)
{
	osip_via_t *via = osip_list_get(&msg->vias, 0);
	unsigned bit = to == MEDIA_PUBLIC ? 2u : 1u;

	if (!via || (px.cfg->use_rport & bit))
		return;
	for (int i = 0; i < osip_list_size(&via->via_params); i++) {
		osip_generic_param_t *p = osip_list_get(&via->via_params, i);

		if (p->gname && !strcasecmp(p->gname, "rport")) {
			osip_list_remove(&via->via_params, i);
			osip_generic_param_free(p);
			return;
		}
	}
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

/* Via parameter of sipmasq's own Via toward the private side: the Call-ID
 * mark taken off the request (obscure_loops), put back on the answer. */
#define VIA_LOOP_TAG "smqcid"

/* obscure_loops on a request from `from`: a request from the public side
 * loses a mark that belongs to the other leg (its tag goes to tag[n]);
 * returns true when a request from the private side is to be marked: not
 * a REGISTER, and not in a call that started on the public side. */
static bool loops_request(osip_message_t *msg, enum media_side from, char *tag, size_t n)
{
	const struct call *c;
	char cid[256];

	tag[0] = '\0';
	if (!px.cfg->obscure_loops || !strcmp(msg->sip_method, "REGISTER"))
		return false;
	if (from == MEDIA_PUBLIC) {
		callid_unmark_foreign(msg, tag, n);
		return false;
	}
	c = calls_find(sipmsg_call_id(msg, cid, sizeof(cid)));
	return !c || c->caller != MEDIA_PUBLIC;
}

/* from: request_side() of src, worked out once per datagram in proxy_rx. */
static void handle_request(osip_message_t *msg, const struct sockaddr_in *src,
			   enum media_side from, enum sip_proto rx_proto)
{
	enum media_side to = (enum media_side)!from;
	char branch[SIPMSG_BRANCH_LEN + 1], a[ADDR_STRLEN];
	struct sip_hop hop;
	int mf = sipmsg_max_forwards(msg), status;
	char loop_tag[CALLID_TAG_MAX];
	bool mark;

	log_debug(DBCLASS_PROXY, "%s from %s (%s side)", msg->sip_method, addr_str(src, a),
		  proxy_side_name(from));
	if (!strcmp(msg->sip_method, "ACK") && sipmsg_to_tag_is_ours(msg)) {
		log_debug(DBCLASS_PROXY, "ACK of sipmasq's own answer from %s: absorbed",
			  addr_str(src, a));
		return;   /* the transaction ends here: sipmasq was its UAS */
	}
	if (mf == 0) {
		proxy_reply(&px, msg, src, 483, 0);
		return;
	}
	sipmsg_set_max_forwards(msg, mf < 0 ? 70 : mf - 1);
	sipmsg_branch(msg, to == MEDIA_PUBLIC ? 'O' : 'I', branch);
	if (via_loop(msg, branch)) {
		proxy_reply(&px, msg, src, 482, 0);
		return;
	}
	routes_pop_ours(msg);
	sipmsg_via_mark_received(msg, src);
	if (rx_proto == SIP_PROTO_TCP)
		sipmsg_via_mark_connection(msg, src);
	/* siproxd (measured): while if_outbound is missing or has no address
	 * (ppp0 down), every request from the private side gets 408, and
	 * sipmasq carries on when the interface comes back. */
	if (from == MEDIA_PRIVATE && !px.side[MEDIA_PUBLIC].addr.s_addr &&
	    strcmp(msg->sip_method, "ACK")) {
		log_ratelimited("outbound-down", 10, LOG_NOTICE,
				"%s from %s answered 408: %s interface %s has no IPv4 address",
				msg->sip_method, addr_str(src, a), proxy_side_name(MEDIA_PUBLIC),
				px.cfg->if_outbound);
		proxy_reply(&px, msg, src, 408, 0);
		return;
	}
	mark = loops_request(msg, from, loop_tag, sizeof(loop_tag));
	status = from == MEDIA_PRIVATE ? route_outgoing(msg, src, &hop) : route_incoming(msg, src, &hop);
	if (status < 0)
		return;   /* answered by sipmasq itself (registrar mode) */
	if (!status)
		status = media_handle(msg, from, src);
	if (status) {
		log_debug(DBCLASS_PROXY, "%s from %s answered %d", msg->sip_method,
			  addr_str(src, a), status);
		if (loop_tag[0])   /* the answer goes back with the Call-ID it came with */
			callid_mark_with(msg, loop_tag);
		proxy_reply(&px, msg, src, status, status == 503 ? RETRY_AFTER_S : 0);
		return;
	}
	/* Topology hiding: the public side sees only sipmasq's Via. */
	if ((mark && callid_mark(msg) != 0) ||
	    (to == MEDIA_PUBLIC && via_stash_save(branch, msg, evloop_now_ms()) != 0)) {
		proxy_reply(&px, msg, src, 500, 0);
		return;
	}
	if (sipmsg_via_push(msg, proxy_face(&px, to), px.port, hop.proto, branch) != 0) {
		/* Answer from the sender's own Vias, taken back from the stash. */
		if (to != MEDIA_PUBLIC || via_stash_restore(branch, msg) == 0)
			proxy_reply(&px, msg, src, 500, 0);
		return;
	}
	via_apply_use_rport(msg, to);
	if (loop_tag[0]) {
		osip_via_t *ours = osip_list_get(&msg->vias, 0);
		osip_via_param_add(ours, osip_strdup(VIA_LOOP_TAG), osip_strdup(loop_tag));
	}
	if (to == MEDIA_PUBLIC)
		ua_masquerade(msg);
	proxy_send_hop(&px, msg, &hop, to == MEDIA_PUBLIC);
}

/* A response goes back over the transport its request came on (the Via's
 * sent-protocol); over TCP on the request's connection, or, when that is
 * gone, on a new one to the sent-by port (rport named the closed
 * connection's port) (RFC 3261 18.2.2). */
static void response_transport(const osip_via_t *via, struct sip_hop *hop)
{
	struct sockaddr_in dst;

	hop->proto = sipmsg_via_proto(via);
	if (hop->proto == SIP_PROTO_TCP && resolver_cached(hop, &dst) == 0 &&
	    !sip_tcp_connected(&dst))
		hop->port = addr_parse_port(via->port, 5060);
}

static void handle_response(osip_message_t *msg, const struct sockaddr_in *src)
{
	osip_via_t *via = osip_list_get(&msg->vias, 0);
	const char *branch = sipmsg_via_param(via, "branch");
	size_t plen = strlen(SIPMSG_BRANCH_PREFIX);
	enum media_side to, from;
	struct sip_hop hop;
	char a[ADDR_STRLEN], our_branch[SIPMSG_BRANCH_LEN + 1], loop_tag[CALLID_TAG_MAX];
	const char *tag = sipmsg_via_param(via, VIA_LOOP_TAG);

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
	snprintf(loop_tag, sizeof(loop_tag), "%s", tag ? tag : "");
	sipmsg_via_pop(msg);
	/* Requests to the public side leave with sipmasq's Via alone (the rest
	 * is stashed): Vias below ours there are forged, as is a branch that is
	 * not in the stash. */
	if (to == MEDIA_PRIVATE && (osip_list_size(&msg->vias) != 0 ||
				    via_stash_restore(our_branch, msg) != 0)) {
		log_ratelimited("response-stash", 10, LOG_INFO,
				"response from %s for an unknown or expired transaction, dropped",
				addr_str(src, a));
		return;
	}
	if (to == MEDIA_PRIVATE)
		flood_note_peer(src->sin_addr, evloop_now_ms());   /* answered our request */
	via = osip_list_get(&msg->vias, 0);
	if (!via || sip_hop_from_via(via, &hop) != 0) {
		log_ratelimited("response-via", 10, LOG_INFO,
				"response from %s has no usable Via below ours, dropped",
				addr_str(src, a));
		return;
	}
	response_transport(via, &hop);
	if (to == MEDIA_PRIVATE && px.cfg->obscure_loops)
		callid_unmark_own(msg);
	if (to == MEDIA_PRIVATE && !strcmp(msg->cseq->method, "REGISTER"))
		proxy_register_response(msg);
	else if (to == MEDIA_PUBLIC && proxy_contacts_masquerade(&px, msg, src) != 0) {
		/* The UA answered from src with a Contact we cannot masquerade:
		 * better no answer than its private address (the cause is logged). */
		log_ratelimited("response-contact", 10, LOG_WARNING,
				"%d response from %s: Contact not masqueraded, dropped",
				msg->status_code, addr_str(src, a));
		return;
	}
	if (record_route_face(msg, to, to == MEDIA_PRIVATE ? 'O' : 'I') != 0) {
		log_ratelimited("response-rr", 10, LOG_ERR,
				"response from %s: Record-Route not rewritten (out of memory), dropped",
				addr_str(src, a));
		return;
	}
	if (media_handle(msg, from, src) != 0)
		return;
	if (to == MEDIA_PUBLIC && loop_tag[0] && callid_mark_with(msg, loop_tag) != 0)
		return;
	if (to == MEDIA_PUBLIC)
		ua_masquerade(msg);
	proxy_send_hop(&px, msg, &hop, false);
}

/* A message sip_send could not deliver. A request is answered as if its
 * next hop had (RFC 3261 16.9: a failed target counts as 503; a name that
 * does not exist as 404; a name of sipmasq itself as in route_outgoing),
 * through handle_response, so the Via stash, the call state and the
 * sender's Via all work as for a real answer. Responses are dropped
 * (sip_send logged it). */
static void send_failed(const char *buf, size_t len, enum sip_send_error why)
{
	struct sockaddr_in self = addr_make(px.announce_pub, px.port);
	osip_message_t *req = NULL, *resp;
	int code = why == SIP_SEND_NO_SUCH_HOST ? 404 : 503;

	if (sipmsg_parse(buf, len, &req) == 0 && MSG_IS_REQUEST(req) &&
	    strcmp(req->sip_method, "ACK")) {
		if (why == SIP_SEND_SELF)
			code = sipval_local_status(req);
		if (sipmsg_make_response(req, code, code == 503 ? RETRY_AFTER_S : 0, &resp) == 0) {
			handle_response(resp, &self);
			osip_message_free(resp);
		}
	}
	if (req)
		osip_message_free(req);
}

/* Per-source token bucket (sip_flood.c) on what looks like a request,
 * before it costs a parse: the private side, registered UAs and the public
 * peers that answer sipmasq's requests (the provider, whose requests are
 * those of every incoming call) have the larger budget. Returns false to
 * drop the datagram. `from`: request_side() of src. */
static bool flood_permitted(const struct sockaddr_in *src, enum media_side from)
{
	const struct sipmasq_config *cfg = px.cfg;
	bool trusted;
	char a[ADDR_STRLEN];

	trusted = from == MEDIA_PRIVATE || flood_is_peer(src->sin_addr, evloop_now_ms());
	if (flood_allow(src->sin_addr, trusted ? cfg->sip_rate_limit_registered : cfg->sip_rate_limit,
			trusted ? cfg->sip_rate_burst_registered : cfg->sip_rate_burst,
			evloop_now_ms()))
		return true;
	log_ratelimited("sip-flood", 10, LOG_WARNING,
			"SIP flood: requests from %s over %s = %u/s, dropped (%llu so far)",
			addr_str(src, a), trusted ? "sip_rate_limit_registered" : "sip_rate_limit",
			trusted ? cfg->sip_rate_limit_registered : cfg->sip_rate_limit,
			(unsigned long long)flood_dropped());
	return false;
}

/* The checks of sip_validate.c on a parsed message (parse_rc: what
 * sipmsg_parse returned): a request that fails one is answered (416, 420,
 * 513) here, a response is dropped. Returns true when msg goes no
 * further. */
static bool message_refused(const osip_message_t *msg, const char *buf, size_t len,
			    int parse_rc, const struct sockaddr_in *src)
{
	struct sipval_verdict v;
	bool request = MSG_IS_REQUEST(msg) && msg->sip_method;
	char a[ADDR_STRLEN];

	if (sipval_limits(px.cfg, buf, len, msg, &v)) {
		sipval_limit_hit(v.limit, v.value, request ? msg->sip_method : "response", src);
		if (request && osip_list_size(&msg->vias) > 0)
			proxy_reply(&px, msg, src, v.status, 0);
		return true;
	}
	if (!request && !sipval_content_length_ok(msg)) {
		log_ratelimited("bad-sip", 10, LOG_INFO, "response from %s: bad Content-Length, "
				"dropped", addr_str(src, a));
		return true;
	}
	if (!request || osip_list_size(&msg->vias) == 0)
		return false;
	if (sipval_request(msg, &v) == 416 || (v.status && !parse_rc)) {
		log_ratelimited("sip-validate", 10, LOG_INFO, "%s from %s: %s, answered %d",
				msg->sip_method, addr_str(src, a), v.status == 416 ?
				"Request-URI scheme not supported" : v.status == 420 ?
				"Proxy-Require not supported" : "bad Content-Length", v.status);
		proxy_reply_with(&px, msg, src, v.status, 0, v.status == 420 ? "Unsupported" : NULL,
			   v.unsupported);
		return true;
	}
	return false;
}

/* A request libosip2 rejected for its Request-URI's unknown scheme gets
 * its 416 all the same (RFC 3261 16.3 step 2). Returns true if answered. */
static bool foreign_scheme_answered(const char *buf, size_t len, const struct sockaddr_in *src)
{
	osip_message_t *msg;
	char a[ADDR_STRLEN];

	if (sipval_parse_foreign_scheme(buf, len, &msg) != 0)
		return false;
	if (access_permitted(msg, src)) {
		log_ratelimited("sip-validate", 10, LOG_INFO,
				"%s from %s: Request-URI scheme not supported, answered 416",
				msg->sip_method, addr_str(src, a));
		proxy_reply(&px, msg, src, 416, 0);
	}
	osip_message_free(msg);
	return true;
}

static void proxy_rx(const char *buf, size_t len, const struct sockaddr_in *src, int ifindex,
		     enum sip_proto proto)
{
	osip_message_t *msg;
	char a[ADDR_STRLEN];
	enum media_side from = MEDIA_PUBLIC;
	bool request;
	int rc;

	log_debug(DBCLASS_NETTRAF, "from %s:\n%.*s", addr_str(src, a), (int)len, buf);
	if (len < 4 || !strncmp(buf, "\r\n", 2))
		return;   /* keep-alive */
	/* request_side() may walk the bindings: once per datagram, and only
	 * for requests (responses carry their direction in the Via branch). */
	request = strncmp(buf, "SIP/", 4) != 0;
	if (request)
		from = request_side(src, ifindex);
	if (request && !flood_permitted(src, from))
		return;
	rc = sipmsg_parse(buf, len, &msg);
	if (rc == -EBADMSG && !msg && foreign_scheme_answered(buf, len, src))
		return;
	if (msg && ((MSG_IS_REQUEST(msg) && msg->sip_method && !access_permitted(msg, src)) ||
		    message_refused(msg, buf, len, rc, src))) {
		osip_message_free(msg);
		return;
	}
	if (rc) {
		log_ratelimited("bad-sip", 10, LOG_INFO,
				"malformed SIP message from %s (%zu bytes): %s, dropped",
				addr_str(src, a), len,
				rc == -EBADMSG ? "unparseable" : rc == -EPROTO ?
				"missing or inconsistent mandatory header" : "unsupported SIP version");
		/* A request we can address an answer to gets one (RFC 3261 8.2). */
		if (msg && MSG_IS_REQUEST(msg) && osip_list_size(&msg->vias) > 0)
			proxy_reply(&px, msg, src, rc == -EPROTONOSUPPORT ? 505 : 400, 0);
		if (msg)
			osip_message_free(msg);
		return;
	}
	if (MSG_IS_REQUEST(msg))
		handle_request(msg, src, request ? from : request_side(src, ifindex), proto);
	else
		handle_response(msg, src);
	osip_message_free(msg);
}

/* The limit directives of the tables the proxy fills. */
static int limits_apply(const struct sipmasq_config *cfg)
{
	reg_set_limits(cfg->max_registrations, cfg->max_registrations_per_aor);
	via_stash_set_max(cfg->via_stash_size);
	return flood_init(cfg->sip_rate_sources);
}

/* A link or address changed (ppp0 reconnected): re-read both interfaces
 * now rather than at the next periodic look, so that calls, the relay's
 * ingress check and the kernel engine follow at once. */
static void on_iface_change(void *arg)
{
	(void)arg;
	proxy_refresh_interfaces(&px);
}

int proxy_init(const struct sipmasq_config *cfg)
{
	int rc;

	memset(&px, 0, sizeof(px));
	px.cfg = cfg;
	px.port = cfg->sip_listen_port;
	rc = resolver_init(cfg->dns_server);
	if (rc)
		return rc;
	sip_send_init(send_failed, addr_is_self);
	proxy_refresh_interfaces(&px);
	if (!px.side[MEDIA_PRIVATE].ifindex) {
		log_err("%s: no such interface '%s'", cfg->config_file, cfg->if_inbound);
		return -ENODEV;
	}
	/* As siproxd: an if_outbound that is not there yet (ppp0 before pppd
	 * is up) is waited for; requests get 408 meanwhile. */
	if (!px.side[MEDIA_PUBLIC].ifindex)
		log_warn("%s: interface '%s' (if_outbound) does not exist yet: requests are "
			 "answered 408 until it comes up", cfg->config_file, cfg->if_outbound);
	rc = iface_watch_open(on_iface_change, NULL);
	if (rc)
		log_warn("interface changes are followed every 5 s only (rtnetlink: %s)",
			 strerror(-rc));
	proxy_host_outbound_lookup(&px, true);
	calls_set_logging(cfg->log_calls);
	rc = limits_apply(cfg);
	if (rc)
		return rc;
	rc = sip_transport_open(px.port, cfg->sip_dscp, proxy_rx);
	if (rc) {
		log_err("cannot listen on UDP port %u: %s", px.port, strerror(-rc));
		return rc;
	}
	rc = sip_tcp_open(px.port, proxy_rx, &(struct sip_tcp_params){
		.connect_timeout_ms = cfg->tcp_connect_timeout,
		.idle_timeout_s = cfg->tcp_timeout,
		.keepalive_s = cfg->tcp_keepalive,
		.dscp = cfg->sip_dscp });
	if (rc)
		log_err("cannot listen on TCP port %u: %s", px.port, strerror(-rc));
	return rc;
}

int proxy_init_offline(const struct sipmasq_config *cfg, const struct iface_side side[2])
{
	struct in_addr ip;

	memset(&px, 0, sizeof(px));
	px.cfg = cfg;
	px.port = cfg->sip_listen_port;
	px.offline = true;
	sip_send_init(send_failed, addr_is_self);
	px.side[MEDIA_PRIVATE] = side[MEDIA_PRIVATE];
	px.side[MEDIA_PUBLIC] = side[MEDIA_PUBLIC];
	px.announce_pub = side[MEDIA_PUBLIC].addr;
	/* Numeric only: offline means no DNS either. */
	if (addr_is_numeric(cfg->host_outbound, &ip))
		px.announce_pub = ip;
	px.last_iface_ms = evloop_now_ms();
	calls_set_logging(cfg->log_calls);
	return limits_apply(cfg);
}

void proxy_input(const char *buf, size_t len, const struct sockaddr_in *src, int ifindex)
{
	proxy_rx(buf, len, src, ifindex, SIP_PROTO_UDP);
}

void proxy_tick(void)
{
	uint64_t now = evloop_now_ms();

	/* Every 5 s; every second while if_outbound is down, so that service
	 * resumes as soon as it is back. */
	if (!px.offline && (now - px.last_iface_ms >= 5000 || !px.side[MEDIA_PUBLIC].addr.s_addr))
		proxy_refresh_interfaces(&px);
	if (!px.offline && now - px.last_dns_ms >= px.cfg->host_outbound_refresh * 1000ull)
		proxy_host_outbound_lookup(&px, false);
	resolver_tick();
	sip_send_expire(now);
	calls_expire(now, px.cfg->rtp_timeout);
	via_stash_expire(now);
	sip_tcp_tick(now);
	reg_expire(time(NULL));
}

void proxy_fini(bool handover)
{
	iface_watch_close();
	calls_fini(handover);
	via_stash_fini();
	flood_fini();
	sip_send_fini();
	resolver_fini();
	sip_tcp_close();
	sip_transport_close();
}
