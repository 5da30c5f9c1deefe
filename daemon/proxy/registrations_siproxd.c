/* siproxd's registration_file read at start and written for a move back
 * (registrations_siproxd.h). Learnt from siproxd 0.8.5dev run as a black
 * box: a REGISTER through it, SIGTERM, and the file it left. */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <osipparser2/osip_parser.h>

#include "daemon/base/addr.h"
#include "daemon/base/log.h"
#include "daemon/base/statefile.h"
#include "daemon/proxy/registrations.h"
#include "daemon/proxy/registrations_siproxd.h"
#include "daemon/sip/sip_msg.h"

/* siproxd's line buffer is 128 bytes: longer lines are cut. */
#define SIPROXD_LINE_MAX 127

/* One URI line of a slot, without its line end, into buf (n bytes).
 * Returns false at the end of the file. */
static bool read_uri_line(FILE *f, char *buf, size_t n)
{
	if (!fgets(buf, (int)n, f))
		return false;
	buf[strcspn(buf, "\r\n")] = '\0';
	return true;
}

/* "scheme:user@host[:port]", the AOR of a URI, as sipmasq keys bindings
 * (the same shape as the proxy's AOR of a To URI). */
static void uri_aor(const osip_uri_t *u, char *buf, size_t n)
{
	snprintf(buf, n, "%s:%s%s%s%s%s", u->scheme ? u->scheme : "sip",
		 u->username ? u->username : "", u->username ? "@" : "", u->host,
		 u->port ? ":" : "", u->port ? u->port : "");
}

static osip_uri_t *uri_parse(const char *text)
{
	osip_uri_t *u;

	if (!text[0] || osip_uri_init(&u) != 0)
		return NULL;
	if (osip_uri_parse(u, text) != 0 || !u->host) {
		osip_uri_free(u);
		return NULL;
	}
	return u;
}

/* One active slot: true URL, masqueraded URL, registered URL. Returns 1
 * when a binding was added, 0 when the slot is skipped, -ENOMEM. */
static int slot_import(const char *true_url, const char *masq_url, const char *reg_url,
		       time_t expires, time_t now)
{
	osip_uri_t *contact = uri_parse(true_url), *masq = uri_parse(masq_url);
	osip_uri_t *aor_uri = uri_parse(reg_url);
	char contact_s[256], aor[256], legacy[256];
	const char *token = masq ? sipmsg_uri_param(masq, "smqid") : NULL;
	struct sockaddr_in src = { 0 };
	struct in_addr ip;
	int rc = 0;

	if (contact && aor_uri) {
		sipmsg_uri_str(contact, contact_s, sizeof(contact_s));
		uri_aor(aor_uri, aor, sizeof(aor));
		/* Where the phone's requests come from: siproxd does not keep
		 * it; its Contact is the best guess (a phone on the LAN). */
		if (addr_is_numeric(contact->host, &ip))
			src = addr_make(ip, addr_parse_port(contact->port, 5060));
		if (token && strlen(token) != REG_TOKEN_LEN)
			token = NULL;
		/* siproxd's own masqueraded Contact is what its registrar holds:
		 * the phone's next REGISTER through sipmasq removes it, else the
		 * registrar would fork each call to both Contacts. */
		if (masq && !token)
			sipmsg_uri_str(masq, legacy, sizeof(legacy));
		rc = reg_restore(token, aor, contact_s, contact->username ? contact->username : "",
				 masq && !token ? legacy : NULL, &src, expires, now);
	}
	if (contact)
		osip_uri_free(contact);
	if (masq)
		osip_uri_free(masq);
	if (aor_uri)
		osip_uri_free(aor_uri);
	return rc;
}

static int siproxd_load(FILE *f, const char *path, time_t now)
{
	char line[512], urls[3][512];
	int n = 0, slot = 0;

	while (fgets(line, sizeof(line), f)) {
		int active;
		long long expires;

		if (sscanf(line, "****:%d:%lld", &active, &expires) != 2) {
			log_warn("%s: slot %d of siproxd's registration file unreadable, "
				 "the rest ignored", path, slot + 1);
			break;
		}
		slot++;
		if (!active)
			continue;
		for (int i = 0; i < 3; i++) {
			if (!read_uri_line(f, urls[i], sizeof(urls[i]))) {
				log_warn("%s: slot %d of siproxd's registration file cut short",
					 path, slot);
				return n;
			}
		}
		int rc = slot_import(urls[0], urls[1], urls[2], (time_t)expires, now);
		if (rc < 0)
			return rc;
		if (rc == 0 && expires > now)
			log_info("%s: slot %d (%s) not imported", path, slot, urls[0]);
		n += rc;
	}
	return n;
}

int reg_siproxd_import(const char *path)
{
	FILE *f = fopen(path, "r");
	int n;

	if (!f)
		return -errno;
	n = siproxd_load(f, path, time(NULL));
	fclose(f);
	return n;
}

struct export_ctx {
	const char *host;
	unsigned short port;
	unsigned written, skipped;
};

static int emit_siproxd(FILE *f, void *arg)
{
	struct export_ctx *x = arg;
	time_t now = time(NULL);
	unsigned slots = 0;
	char port[8] = "";

	if (x->port != 5060)
		snprintf(port, sizeof(port), ":%u", x->port);
	x->written = x->skipped = 0;
	for (const struct binding *b = reg_head(); b; b = b->next) {
		char masq[320];

		if (!b->registered || b->expires <= now)
			continue;
		snprintf(masq, sizeof(masq), "sip:%s%s%s%s;smqid=%s", b->user,
			 b->user[0] ? "@" : "", x->host, port, b->token);
		fprintf(f, "****:1:%lld\n%s\n%s\n%s\n", (long long)b->expires, b->contact, masq,
			b->aor);
		x->written++;
		if (++slots > SIPROXD_SLOTS || strlen(b->contact) > SIPROXD_LINE_MAX ||
		    strlen(masq) > SIPROXD_LINE_MAX || strlen(b->aor) > SIPROXD_LINE_MAX)
			x->skipped++;
	}
	for (; slots < SIPROXD_SLOTS; slots++)
		fputs("****:0:0\n", f);
	return ferror(f) ? -EIO : 0;
}

int reg_siproxd_export(const char *path, const char *public_host, unsigned short port,
		       unsigned *skipped_by_siproxd)
{
	struct export_ctx x = { .host = public_host, .port = port };
	int rc = statefile_write(path, emit_siproxd, &x);

	if (skipped_by_siproxd)
		*skipped_by_siproxd = x.skipped;
	return rc ? rc : (int)x.written;
}
