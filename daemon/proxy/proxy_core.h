/* What the proxy's own files share (sip_proxy.c routes messages,
 * proxy_register.c handles REGISTER and Contacts): its state and the
 * helpers both use. Not an interface for the rest of the daemon
 * (daemon/proxy/sip_proxy.h is). */
#ifndef SIPMASQ_PROXY_CORE_H
#define SIPMASQ_PROXY_CORE_H

#include <netinet/in.h>
#include <osipparser2/osip_parser.h>
#include <stdbool.h>
#include <stdint.h>

#include "daemon/config/config.h"
#include "daemon/base/iface.h"
#include "kmod-free-fallback/media.h"

/* How long a dialog binding (Contact of an unregistered caller) lives, s. */
#define DIALOG_BINDING_S 7200
/* Retry-After of sipmasq's own 503 answers, s. */
#define RETRY_AFTER_S 10
/* RFC 3261 18.1.1: a larger request goes over TCP (path MTU unknown). */
#define UDP_REQUEST_MAX 1300

/* The proxy's state, set by proxy_init / proxy_init_offline. */
struct proxy_state {
	const struct sipmasq_config *cfg;
	struct iface_side side[2];       /* by enum media_side */
	struct in_addr announce_pub;     /* host_outbound, else if_outbound's address */
	unsigned short port;             /* sip_listen_port, host order */
	uint64_t last_iface_ms;
	struct in_addr host_outbound_ip; /* last address of host_outbound, 0 = none yet */
	uint64_t last_dns_ms;            /* last lookup of host_outbound */
	bool offline;                    /* proxy_init_offline: interfaces are fixed */
};

extern struct proxy_state px;

/* proxy_side_name: "private" or "public", for log lines. */
const char *proxy_side_name(enum media_side s);

/* proxy_refresh_interfaces: re-read both interfaces' addresses into px
 * and log changes. Returns 0, or iface_lookup's error (-ENODEV) for the
 * side that failed first. */
int proxy_refresh_interfaces(void);

/* proxy_host_outbound_lookup: look host_outbound up when it is a name:
 * at_start waits up to 5 s (before the loop runs), later lookups use the
 * cache or run in the background; px.announce_pub follows the answer, the
 * last address stays while the DNS fails. */
void proxy_host_outbound_lookup(bool at_start);

/* proxy_face: the address sipmasq shows toward side s (Via, Record-Route,
 * Contact, SDP). */
struct in_addr proxy_face(enum media_side s);

/* proxy_ip_is_ours: ip is one of sipmasq's addresses (either side, or
 * host_outbound's). */
bool proxy_ip_is_ours(struct in_addr ip);

/* proxy_uri_is_ours: uri names sipmasq itself (numeric host of ours and
 * the listen port). */
bool proxy_uri_is_ours(const osip_uri_t *uri);

/* proxy_send_to: serialise msg and send it to dst over the connection dst
 * has with sipmasq, else UDP. msg stays the caller's. */
void proxy_send_to(osip_message_t *msg, const struct sockaddr_in *dst);

/* proxy_reply: answer req with code (and Retry-After when retry_after is
 * not 0, s) to where it came from (RFC 3581 symmetric response); never
 * an ACK. */
void proxy_reply(const osip_message_t *req, const struct sockaddr_in *src, int code,
		 unsigned retry_after);

/* proxy_aor_of: "scheme:user@host[:port]", the AOR of a To/From URI
 * without parameters, into buf (n bytes, truncated). */
void proxy_aor_of(const osip_uri_t *uri, char *buf, size_t n);

/* proxy_uri_replace: replace *uri in place by a parsed copy of text.
 * Returns 0, -ENOMEM or -EINVAL (text does not parse; *uri unchanged). */
int proxy_uri_replace(osip_uri_t **uri, const char *text);

/* proxy_contacts_masquerade: bind and masquerade every Contact of a
 * message from the private side (dialogs). Returns 0, or 503 when
 * max_registrations leaves no room (the Contact would leak). */
int proxy_contacts_masquerade(osip_message_t *msg, const struct sockaddr_in *src);

/* proxy_register_bind: bind the Contacts of a REGISTER from a private UA
 * (RFC 3261 10.3 steps 6-7). masquerade: the REGISTER goes on to a
 * registrar, each Contact replaced by its masqueraded form; otherwise
 * sipmasq is the registrar. Returns 0, or 503 (max_registrations*) or
 * 500. */
int proxy_register_bind(osip_message_t *msg, const struct sockaddr_in *src, bool masquerade);

/* proxy_register_local: registrar mode: answer a REGISTER addressed to
 * sipmasq itself with 200 and every live binding of the AOR (RFC 3261
 * 10.3 step 8), or with the error proxy_register_bind gave. */
void proxy_register_local(osip_message_t *msg, const struct sockaddr_in *src);

/* proxy_register_response: a response to a forwarded REGISTER: on 2xx
 * the registrar's expiry is taken over; the UA gets its own Contacts back. */
void proxy_register_response(osip_message_t *msg);

#endif
