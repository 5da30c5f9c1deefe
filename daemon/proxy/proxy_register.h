/* REGISTER and Contact handling of the proxy (RFC 3261 10.3): bindings
 * made from the private side's Contacts and their masqueraded form. */
#ifndef SIPMASQ_PROXY_REGISTER_H
#define SIPMASQ_PROXY_REGISTER_H

#include <netinet/in.h>
#include <osipparser2/osip_parser.h>
#include <stdbool.h>

#include "daemon/proxy/proxy_addresses.h"

/* How long a dialog binding (Contact of an unregistered caller) lives, s. */
#define DIALOG_BINDING_S 7200

/* proxy_contacts_masquerade: bind and masquerade every Contact of a
 * message from the private side (dialogs) that came from src (network byte
 * order). Returns 0, or 503 when max_registrations leaves no room (the
 * Contact would leak). */
int proxy_contacts_masquerade(const struct proxy_addrs *pa, osip_message_t *msg,
			      const struct sockaddr_in *src);

/* proxy_register_bind: bind the Contacts of a REGISTER from a private UA
 * (RFC 3261 10.3 steps 6-7). masquerade: the REGISTER goes on to a
 * registrar, each Contact replaced by its masqueraded form; otherwise
 * sipmasq is the registrar. Returns 0, or 503 (max_registrations*) or
 * 500. */
int proxy_register_bind(const struct proxy_addrs *pa, osip_message_t *msg,
			const struct sockaddr_in *src, bool masquerade);

/* proxy_register_local: registrar mode: answer a REGISTER addressed to
 * sipmasq itself with 200 and every live binding of the AOR (RFC 3261
 * 10.3 step 8), or with the error proxy_register_bind gave. */
void proxy_register_local(const struct proxy_addrs *pa, osip_message_t *msg,
			  const struct sockaddr_in *src);

/* proxy_register_response: a response to a forwarded REGISTER: on 2xx
 * the registrar's expiry is taken over; the UA gets its own Contacts back. */
void proxy_register_response(osip_message_t *msg);

#endif
