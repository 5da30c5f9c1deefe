/* Checks of hostile or broken SIP (see sip_validate.h). */
#include "autoconfig.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/base/addr.h"
#include "daemon/base/log.h"
#include "daemon/sip/sip_msg.h"
#include "daemon/sip/sip_validate.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

unsigned sipval_header_count(const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;
	unsigned n = 0;
	bool start_line = true;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t llen = (size_t)((nl ? nl : end) - p);

		if (llen && p[llen - 1] == '\r')
			llen--;
		if (!llen)
			break;   /* the empty line: the body follows */
		if (!start_line && p[0] != ' ' && p[0] != '\t')
			n++;
		start_line = false;
		if (!nl)
			break;
		p = nl + 1;
	}
	return n;
}

int sipval_limits(const struct sipmasq_config *cfg, const char *buf, size_t len,
		  const osip_message_t *msg, struct sipval_verdict *v)
{
	memset(v, 0, sizeof(*v));
	if (len > cfg->sip_max_message_size) {
		v->limit = "sip_max_message_size";
		v->value = cfg->sip_max_message_size;
	} else if (sipval_header_count(buf, len) > cfg->sip_max_headers) {
		v->limit = "sip_max_headers";
		v->value = cfg->sip_max_headers;
	} else if (MSG_IS_REQUEST(msg) &&
		   (unsigned)osip_list_size(&msg->vias) > cfg->sip_max_vias) {
		v->limit = "sip_max_vias";
		v->value = cfg->sip_max_vias;
	}
	v->status = v->limit ? 513 : 0;
	return v->status;
}

/* Append the option tags of one Proxy-Require value to out (", "-separated). */
static void tags_append(const char *value, char *out, size_t n)
{
	char copy[256], *save = NULL;

	snprintf(copy, sizeof(copy), "%s", value);
	for (char *t = strtok_r(copy, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
		size_t used = strlen(out);

		snprintf(out + used, n - used, "%s%s", used ? ", " : "", t);
	}
}

bool sipval_content_length_ok(const osip_message_t *msg)
{
	const char *cl = msg->content_length ? msg->content_length->value : NULL;
	size_t n;

	if (!cl)
		return true;   /* UDP: the body is the rest of the datagram */
	n = strspn(cl, "0123456789");
	if (!n || cl[n])
		return false;   /* libosip2 takes "-5" or "abc" as 0 (RFC 4475 3.1.2.4) */
	while (n > 1 && *cl == '0') {
		cl++;
		n--;
	}
	return n <= 5 && atoi(cl) <= 65535;   /* 20 digits would wrap around */
}

int sipval_request(const osip_message_t *msg, struct sipval_verdict *v)
{
	osip_header_t *h = NULL;

	memset(v, 0, sizeof(*v));
	/* Step 1 (reasonable syntax): a Content-Length that frames no body. */
	if (!sipval_content_length_ok(msg)) {
		v->status = 400;
		return v->status;
	}
	/* Step 2: only sip: is routed (a tel: URI names no host to send to). */
	if (!msg->req_uri || !msg->req_uri->scheme || strcasecmp(msg->req_uri->scheme, "sip")) {
		v->status = 416;
		return v->status;
	}
	/* Step 5: every option tag is unsupported; sipmasq implements none. */
	for (int pos = 0; (pos = osip_message_header_get_byname(msg, "proxy-require", pos, &h)) >= 0;
	     pos++) {
		if (h && h->hvalue)
			tags_append(h->hvalue, v->unsupported, sizeof(v->unsupported));
	}
	if (v->unsupported[0])
		v->status = 420;
	return v->status;
}

/* Stands in for a Request-URI libosip2 cannot parse. */
#define STAND_IN_URI "sip:unsupported-scheme.invalid"

int sipval_parse_foreign_scheme(const char *buf, size_t len, osip_message_t **out)
{
	const char *sp1 = memchr(buf, ' ', len), *eol = memchr(buf, '\n', len), *uri, *sp2, *p;
	size_t n;
	char *copy;
	int rc;

	*out = NULL;
	if (!sp1 || !eol || sp1 > eol)
		return -EINVAL;
	uri = sp1 + 1;
	sp2 = memchr(uri, ' ', (size_t)(eol - uri));
	/* RFC 3261 19.1.1 / RFC 3986 3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
	for (p = uri; sp2 && p < sp2 && (isalnum((unsigned char)*p) || strchr("+-.", *p)); p++)
		;
	if (!sp2 || p == uri || !isalpha((unsigned char)*uri) || p >= sp2 || *p != ':' ||
	    (p - uri == 3 && !strncasecmp(uri, "sip", 3)))
		return -EINVAL;
	n = (size_t)(uri - buf) + strlen(STAND_IN_URI) + (len - (size_t)(sp2 - buf));
	copy = malloc(n + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, buf, (size_t)(uri - buf));
	memcpy(copy + (uri - buf), STAND_IN_URI, strlen(STAND_IN_URI));
	memcpy(copy + (uri - buf) + strlen(STAND_IN_URI), sp2, len - (size_t)(sp2 - buf));
	copy[n] = '\0';
	rc = sipmsg_parse(copy, n, out);
	free(copy);
	if (rc && *out) {
		osip_message_free(*out);
		*out = NULL;
	}
	return rc ? -EINVAL : 0;
}

int sipval_local_status(const osip_message_t *msg)
{
	static const char *const known[] = {
		"INVITE", "ACK", "BYE", "CANCEL", "REGISTER", "OPTIONS", "SUBSCRIBE",
		"NOTIFY", "REFER", "MESSAGE", "INFO", "PRACK", "UPDATE", "PUBLISH",
	};

	if (!strcmp(msg->sip_method, "OPTIONS"))
		return 200;
	for (size_t i = 0; i < ARRAY_SIZE(known); i++)
		if (!strcmp(msg->sip_method, known[i]))
			return 404;
	return 501;
}

unsigned sipval_sdp_streams(const char *body, size_t len)
{
	unsigned n = 0;

	for (size_t i = 0; i + 1 < len; i++)
		if ((i == 0 || body[i - 1] == '\n') && body[i] == 'm' && body[i + 1] == '=')
			n++;
	return n;
}

void sipval_limit_hit(const char *directive, unsigned value, const char *what,
		      const struct sockaddr_in *src)
{
	char a[ADDR_STRLEN];

	log_ratelimited(directive, 10, LOG_WARNING, "limit %s = %u reached: %s from %s refused",
			directive, value, what, addr_str(src, a));
}
