/* REGISTER and Contact handling of the proxy: bindings made from the
 * private side's Contacts (RFC 3261 10.3), their masqueraded form
 * (sip:user@public:port;smqid=TOKEN, or masked_host under mask_host),
 * registrar mode, and the registrar's answers taken back. */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "daemon/proxy/host_mask.h"
#include "daemon/base/log.h"
#include "daemon/proxy/proxy_register.h"
#include "daemon/proxy/proxy_send.h"
#include "daemon/proxy/proxy_uri.h"
#include "daemon/proxy/registrations.h"
#include "daemon/sip/sip_msg.h"
#include "daemon/sip/sip_validate.h"

/* The AOR a REGISTER binds: its To URI, with the host replaced by the
 * masked_host of a matching mask_host (siproxd's mask feature). */
static void registered_aor(const struct proxy_addrs *pa, const osip_uri_t *to, char *buf,
			   size_t n)
{
	osip_uri_t masked = *to;   /* shallow: only the host pointer differs */
	const char *host = host_mask_of(pa->cfg, to->host);

	if (host)
		masked.host = (char *)host;
	proxy_aor_of(&masked, buf, n);
}

/* The masqueraded form of a binding: sip:user@public:port;smqid=token,
 * with masked_host for the public address when the binding's AOR was
 * masked (mask_host). */
static int contact_masquerade_uri(const struct proxy_addrs *pa, osip_contact_t *c,
				  const struct binding *b)
{
	char text[320], ip[INET_ADDRSTRLEN];
	const char *host = host_mask_masked_aor(pa->cfg, b->aor);

	inet_ntop(AF_INET, &pa->announce_pub, ip, sizeof(ip));
	snprintf(text, sizeof(text), "sip:%s%s%s:%u;smqid=%s", b->user, b->user[0] ? "@" : "",
		 host ? host : ip, pa->port, b->token);
	return proxy_uri_replace(&c->url, text);
}

/* reg_bind failed (errno says why): log the limit hit. Returns -errno:
 * -EDQUOT, -ENOSPC (a limit), else -ENOMEM. */
int proxy_register_status(int err)
{
	return !err ? 0 : err == -ENOSPC || err == -EDQUOT ? 503 : 500;
}

static int binding_refused(const struct proxy_addrs *pa, const osip_message_t *msg,
			   const struct sockaddr_in *src)
{
	const char *what = msg->sip_method ? msg->sip_method : "response";

	if (errno == EDQUOT)
		sipval_limit_hit("max_registrations_per_aor", pa->cfg->max_registrations_per_aor,
				 what, src);
	else if (errno == ENOSPC)
		sipval_limit_hit("max_registrations", pa->cfg->max_registrations, what, src);
	else
		return -ENOMEM;
	return -errno;
}

/* Masquerade every Contact of a message from the private side (dialogs).
 * Returns 0 or -errno (see proxy_register.h); on error the message still
 * holds private Contacts and must not leave. */
int proxy_contacts_masquerade(const struct proxy_addrs *pa, osip_message_t *msg,
			      const struct sockaddr_in *src)
{
	int rc;

	for (int i = 0; i < osip_list_size(&msg->contacts); i++) {
		osip_contact_t *c = osip_list_get(&msg->contacts, i);
		char real[256];
		struct binding *b;

		if (!c->url)
			continue;
		sipmsg_uri_str(c->url, real, sizeof(real));
		b = reg_bind(NULL, real, c->url->username, src, DIALOG_BINDING_S, false);
		if (!b)
			return binding_refused(pa, msg, src);
		rc = contact_masquerade_uri(pa, c, b);
		if (rc)
			return rc;
	}
	return 0;
}

/* Legacy Contacts removed by one REGISTER: more than a few in one REGISTER
 * wait for the next. */
#define LEGACY_MAX 4

/* A binding imported from siproxd's registration file still has siproxd's
 * masqueraded Contact at the registrar: the REGISTER that refreshes the
 * binding also removes that one (Contact with expires=0, RFC 3261 10.2.2),
 * or the registrar would fork every call to both Contacts and the phone
 * would get each INVITE twice. */
static void legacy_remove(osip_message_t *msg, const struct binding *b)
{
	char value[300];

	snprintf(value, sizeof(value), "<%s>;expires=0", b->legacy);
	if (osip_message_set_contact(msg, value) == 0)
		log_info("register %s: siproxd's Contact %s removed at the registrar", b->aor,
			 b->legacy);
}

/* Bind the Contacts of a REGISTER from a private UA (RFC 3261 10.3 steps
 * 6-7). masquerade: the REGISTER goes on to a registrar, with each Contact
 * replaced by its masqueraded form; otherwise sipmasq is the registrar.
 * Returns 0 or -errno (see proxy_register.h). */
int proxy_register_bind(const struct proxy_addrs *pa, osip_message_t *msg,
			const struct sockaddr_in *src, bool masquerade)
{
	int hdr_expires = sipmsg_expires(msg), rc, n_legacy = 0;
	const struct binding *legacy[LEGACY_MAX];
	char aor[256];

	registered_aor(pa, msg->to->url, aor, sizeof(aor));
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
			expires = (int)pa->cfg->default_expires;
			sipmsg_set_expires(msg, (unsigned)expires);
			hdr_expires = expires;
		}
		sipmsg_uri_str(c->url, real, sizeof(real));
		b = reg_bind(aor, real, c->url->username, src, (unsigned)expires, expires > 0);
		if (!b) {
			reg_save();   /* the Contacts bound before this one */
			return binding_refused(pa, msg, src);
		}
		if (expires == 0)
			reg_unbind(b);
		else
			log_info("register %s -> %s (expires %d s) as smqid=%s", aor, real, expires,
				 b->token);
		if (masquerade && (rc = contact_masquerade_uri(pa, c, b)) != 0) {
			reg_save();
			return rc;
		}
		if (masquerade && b->legacy && n_legacy < LEGACY_MAX)
			legacy[n_legacy++] = b;
	}
	/* Added after the loop, which would bind them as the UA's own. */
	for (int i = 0; i < n_legacy; i++)
		legacy_remove(msg, legacy[i]);
	reg_save();
	return 0;
}

/* Registrar mode: a REGISTER addressed to sipmasq itself is answered here
 * with 200 and every live binding of the AOR (RFC 3261 10.3 step 8). */
void proxy_register_local(const struct proxy_addrs *pa, osip_message_t *msg,
			  const struct sockaddr_in *src)
{
	time_t now = time(NULL);
	osip_message_t *resp;
	char aor[256], value[320];

	int status = proxy_register_status(proxy_register_bind(pa, msg, src, false));

	if (status) {
		proxy_reply(pa, msg, src, status, status == 503 ? RETRY_AFTER_S : 0);
		return;
	}
	if (sipmsg_make_response(msg, 200, 0, &resp) != 0)
		return;
	registered_aor(pa, msg->to->url, aor, sizeof(aor));
	for (const struct binding *b = reg_head(); b; b = b->next) {
		if (!b->registered || b->expires <= now || strcasecmp(b->aor, aor))
			continue;
		snprintf(value, sizeof(value), "<%s>;expires=%lld", b->contact,
			 (long long)(b->expires - now));
		osip_message_set_contact(resp, value);
	}
	proxy_send_to(pa, resp, src);
	osip_message_free(resp);
}

/* 2xx to a REGISTER: the registrar's view of our bindings (RFC 3261 10.3
 * step 8) goes back to the UA with its own Contact. */
void proxy_register_response(osip_message_t *msg)
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
		if (ok && b->legacy)
			reg_legacy_done(b);   /* the registrar took the removal */
		proxy_uri_replace(&c->url, b->contact);
	}
	if (ok)
		reg_save();
}
