/* Digest proxy authentication of REGISTER (RFC 3261 22.3, RFC 7616).
 *
 * Passwords come from proxy_auth_pwfile when it is set (siproxd: the file
 * wins), else proxy_auth_passwd serves every user. The challenge offers
 * proxy_auth_algorithms (default SHA-256 then MD5), all qop=auth, with one
 * fresh nonce; a client without qop (RFC 2069) is accepted once per nonce.
 * The digest-uri is not compared with the Request-URI: phones differ in
 * how they spell it, and the nonce count already stops replays. */
#include "autoconfig.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "daemon/base/addr.h"
#include "daemon/proxy/auth.h"
#include "daemon/proxy/auth_nonce.h"
#include "daemon/base/log.h"
#include "daemon/sip/sip_msg.h"

#define AUTH_FIELD_MAX 256   /* bytes of one credential parameter, with its NUL */
#define PW_LINE_MAX 512

struct pw_entry {
	char *user;
	char *password;
};

static struct {
	const struct sipmasq_config *cfg;
	struct pw_entry *pw;
	size_t n_pw;
} auth;

static const char *const alg_names[] = { [AUTH_ALG_SHA256] = "SHA-256", [AUTH_ALG_MD5] = "MD5" };

/* H(parts joined by ':') as lowercase hex into out (AUTH_HEX_MAX + 1). */
static int hash_hex(enum auth_alg alg, const char *const parts[], size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned md_len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = ctx && EVP_DigestInit_ex(ctx, alg == AUTH_ALG_MD5 ? EVP_md5() : EVP_sha256(),
					   NULL);

	for (size_t i = 0; ok && i < n; i++)
		ok = (!i || EVP_DigestUpdate(ctx, ":", 1)) &&
		     EVP_DigestUpdate(ctx, parts[i], strlen(parts[i]));
	ok = ok && EVP_DigestFinal_ex(ctx, md, &md_len) && md_len * 2 <= AUTH_HEX_MAX;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return -EIO;
	for (unsigned i = 0; i < md_len; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[2 * md_len] = '\0';
	return 0;
}

int auth_digest_response(enum auth_alg alg, const struct auth_digest_in *in, char *out)
{
	char ha1[AUTH_HEX_MAX + 1], ha2[AUTH_HEX_MAX + 1];
	const char *a1[] = { in->user, in->realm, in->password };
	const char *a2[] = { in->method, in->uri };
	int rc;

	if ((rc = hash_hex(alg, a1, 3, ha1)) || (rc = hash_hex(alg, a2, 2, ha2)))
		return rc;
	if (in->qop) {
		const char *r[] = { ha1, in->nonce, in->nc, in->cnonce, in->qop, ha2 };
		rc = hash_hex(alg, r, 6, out);
	} else {
		const char *r[] = { ha1, in->nonce, ha2 };
		rc = hash_hex(alg, r, 3, out);
	}
	OPENSSL_cleanse(ha1, sizeof(ha1));
	return rc;
}

/* One line of the password file: "user password", '#' starts a comment
 * line or a trailing comment field. Returns 1 for an entry, 0 for nothing,
 * -EINVAL with why set. */
static int pw_line(char *line, char **user, char **password, const char **why)
{
	char *save = NULL, *extra;

	*user = strtok_r(line, " \t\r\n", &save);
	if (!*user || **user == '#')
		return 0;
	*password = strtok_r(NULL, " \t\r\n", &save);
	extra = strtok_r(NULL, " \t\r\n", &save);
	if (!*password || **password == '#') {
		*why = "expected 'user password'";
		return -EINVAL;
	}
	if (extra && *extra != '#') {
		*why = "more than 'user password' (a password has no blanks)";
		return -EINVAL;
	}
	if (strlen(*user) >= AUTH_FIELD_MAX || strlen(*password) >= AUTH_FIELD_MAX) {
		*why = "user or password too long";
		return -EINVAL;
	}
	return 1;
}

static int pw_add(const char *user, const char *password)
{
	struct pw_entry *grown = realloc(auth.pw, (auth.n_pw + 1) * sizeof(*grown));

	if (!grown)
		return -ENOMEM;
	auth.pw = grown;
	grown[auth.n_pw].user = strdup(user);
	grown[auth.n_pw].password = strdup(password);
	if (!grown[auth.n_pw].user || !grown[auth.n_pw].password) {
		free(grown[auth.n_pw].user);
		free(grown[auth.n_pw].password);
		return -ENOMEM;
	}
	auth.n_pw++;
	return 0;
}

static const char *pw_lookup(const char *user)
{
	if (!auth.cfg->proxy_auth_pwfile[0])
		return auth.cfg->proxy_auth_passwd;
	for (size_t i = 0; i < auth.n_pw; i++)
		if (!strcmp(auth.pw[i].user, user))
			return auth.pw[i].password;
	return NULL;
}

static int pw_load(const char *path)
{
	char line[PW_LINE_MAX], *user, *password;
	const char *why = NULL;
	unsigned lineno = 0;
	int err = 0, rc;
	FILE *f = fopen(path, "r");

	if (!f) {
		log_err("%s: cannot read proxy_auth_pwfile: %s", path, strerror(errno));
		return -EINVAL;
	}
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			log_err("%s:%u: line too long (at most %d characters)", path, lineno,
				PW_LINE_MAX - 2);
			err = -EINVAL;
			for (int c; (c = fgetc(f)) != EOF && c != '\n';)
				;
			continue;
		}
		rc = pw_line(line, &user, &password, &why);
		if (rc < 0) {
			log_err("%s:%u: %s", path, lineno, why);
			err = -EINVAL;
		} else if (rc > 0 && pw_lookup(user)) {
			log_warn("%s:%u: user '%s' listed again; the first entry wins", path,
				 lineno, user);
		} else if (rc > 0 && pw_add(user, password)) {
			log_err("%s:%u: out of memory", path, lineno);
			err = -EINVAL;
		}
	}
	if (ferror(f)) {
		log_err("%s:%u: read error", path, lineno + 1);
		err = -EINVAL;
	}
	OPENSSL_cleanse(line, sizeof(line));
	fclose(f);
	if (!err && !auth.n_pw)
		log_warn("%s: proxy_auth_pwfile lists no user: every REGISTER will be refused",
			 path);
	return err;
}

int auth_init(const struct sipmasq_config *cfg)
{
	int rc;

	auth_fini();
	auth.cfg = cfg;
	auth_nonce_set_lifetime((uint64_t)cfg->proxy_auth_nonce_lifetime * 1000u);
	if (!cfg->proxy_auth_realm[0] || !cfg->proxy_auth_pwfile[0])
		return 0;
	rc = pw_load(cfg->proxy_auth_pwfile);
	if (!rc)
		log_info("proxy_auth_pwfile %s: %zu user(s)", cfg->proxy_auth_pwfile, auth.n_pw);
	return rc;
}

void auth_fini(void)
{
	for (size_t i = 0; i < auth.n_pw; i++) {
		OPENSSL_cleanse(auth.pw[i].password, strlen(auth.pw[i].password));
		free(auth.pw[i].user);
		free(auth.pw[i].password);
	}
	free(auth.pw);
	memset(&auth, 0, sizeof(auth));
	auth_nonce_reset();
}

/* A credential parameter without its quotes into buf (size n); NULL when
 * absent or too long. */
static const char *unquote(const char *s, char *buf, size_t n)
{
	size_t len;

	if (!s)
		return NULL;
	len = strlen(s);
	if (len >= 2 && s[0] == '"' && s[len - 1] == '"') {
		s++;
		len -= 2;
	}
	if (len >= n)
		return NULL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return buf;
}

static bool is_ours(const osip_proxy_authorization_t *pa)
{
	char realm[AUTH_FIELD_MAX];

	return pa->auth_type && !strcasecmp(pa->auth_type, "Digest") &&
	       unquote(pa->realm, realm, sizeof(realm)) &&
	       !strcmp(realm, auth.cfg->proxy_auth_realm);
}

/* A user name from the network, printable for a log line. */
static const char *printable(char *s)
{
	for (char *p = s; *p; p++)
		if (!isprint((unsigned char)*p))
			*p = '?';
	return s;
}

/* Why a request goes back with a 407. */
enum verdict {
	V_OK,
	V_NONE,        /* no usable credentials of our realm: first challenge */
	V_WRONG,       /* unknown user or wrong password */
	V_STALE,       /* right password, expired or unknown nonce */
	V_REPLAY,      /* right password, nonce count not increasing */
};

/* The credentials of one Proxy-Authorization, unquoted. */
struct creds {
	char user[AUTH_FIELD_MAX], nonce[AUTH_FIELD_MAX], uri[AUTH_FIELD_MAX * 2];
	char response[AUTH_FIELD_MAX], alg[32], qop[32], nc[16], cnonce[AUTH_FIELD_MAX];
	enum auth_alg alg_id;
	uint32_t nc_value;
	bool has_qop;
};

static bool alg_offered(enum auth_alg alg)
{
	for (unsigned i = 0; i < auth.cfg->proxy_auth_n_alg; i++)
		if (auth.cfg->proxy_auth_alg[i] == alg)
			return true;
	return false;
}

/* Fill c from pa; false when something is missing or not offered by us. */
static bool creds_parse(const osip_proxy_authorization_t *pa, struct creds *c)
{
	char *end;
	unsigned long nc;

	if (!unquote(pa->username, c->user, sizeof(c->user)) ||
	    !unquote(pa->nonce, c->nonce, sizeof(c->nonce)) ||
	    !unquote(pa->uri, c->uri, sizeof(c->uri)) ||
	    !unquote(pa->response, c->response, sizeof(c->response)))
		return false;
	if (!pa->algorithm || (unquote(pa->algorithm, c->alg, sizeof(c->alg)) &&
			       !strcasecmp(c->alg, "MD5")))
		c->alg_id = AUTH_ALG_MD5;
	else if (unquote(pa->algorithm, c->alg, sizeof(c->alg)) && !strcasecmp(c->alg, "SHA-256"))
		c->alg_id = AUTH_ALG_SHA256;
	else
		return false;
	if (!alg_offered(c->alg_id))
		return false;
	c->has_qop = pa->message_qop != NULL;
	if (!c->has_qop) {
		c->nc_value = 1;   /* RFC 2069 client: the nonce is good once */
		return true;
	}
	if (!unquote(pa->message_qop, c->qop, sizeof(c->qop)) || strcasecmp(c->qop, "auth") ||
	    !unquote(pa->nonce_count, c->nc, sizeof(c->nc)) || strlen(c->nc) != 8 ||
	    !unquote(pa->cnonce, c->cnonce, sizeof(c->cnonce)))
		return false;
	errno = 0;
	nc = strtoul(c->nc, &end, 16);
	if (*end || errno || nc == 0 || nc > UINT32_MAX)
		return false;
	c->nc_value = (uint32_t)nc;
	return true;
}

/* Check one set of credentials of our realm. */
static enum verdict creds_verify(const osip_message_t *req, const struct creds *c,
				 uint64_t now_ms)
{
	const char *password = pw_lookup(c->user);
	const char *branch = sipmsg_via_param(osip_list_get(&req->vias, 0), "branch");
	char expect[AUTH_HEX_MAX + 1], got[AUTH_HEX_MAX + 1];
	struct auth_digest_in in = {
		.user = c->user, .realm = auth.cfg->proxy_auth_realm, .password = password,
		.method = req->sip_method, .uri = c->uri, .nonce = c->nonce,
		.nc = c->nc, .cnonce = c->cnonce, .qop = c->has_qop ? c->qop : NULL,
	};
	size_t len = strlen(c->response);
	bool right;

	if (!password || len > AUTH_HEX_MAX || auth_digest_response(c->alg_id, &in, expect))
		return V_WRONG;
	for (size_t i = 0; i <= len; i++)
		got[i] = (char)tolower((unsigned char)c->response[i]);
	right = len == strlen(expect) && !CRYPTO_memcmp(got, expect, len);
	OPENSSL_cleanse(expect, sizeof(expect));
	if (!right)
		return V_WRONG;
	switch (auth_nonce_check(c->nonce, c->nc_value, branch, now_ms)) {
	case AUTH_NONCE_FRESH:
		auth_nonce_use(c->nonce, c->nc_value, branch, now_ms);
		return V_OK;
	case AUTH_NONCE_RETRANS:
		return V_OK;
	case AUTH_NONCE_REPLAY:
		return V_REPLAY;
	default:
		return V_STALE;
	}
}

/* Remove every Proxy-Authorization of our realm (RFC 3261 22.3). */
static void creds_consume(osip_message_t *req)
{
	for (int i = 0; i < osip_list_size(&req->proxy_authorizations);) {
		osip_proxy_authorization_t *pa = osip_list_get(&req->proxy_authorizations, i);

		if (is_ours(pa)) {
			osip_list_remove(&req->proxy_authorizations, i);
			osip_proxy_authorization_free(pa);
		} else {
			i++;
		}
	}
}

/* The 407 with a fresh nonce and one Proxy-Authenticate per algorithm. */
static int challenge_make(const osip_message_t *req, bool stale, uint64_t now_ms,
			  osip_message_t **out)
{
	char nonce[AUTH_NONCE_LEN + 1], value[AUTH_FIELD_MAX + 160];
	osip_message_t *resp;
	int rc;

	if ((rc = auth_nonce_new(now_ms, nonce)) != 0) {
		log_ratelimited("auth-nonce", 60, LOG_ERR, "no randomness for a nonce: %s",
				strerror(-rc));
		return -EIO;
	}
	if ((rc = sipmsg_make_response(req, 407, 0, &resp)) != 0)
		return rc;
	for (unsigned i = 0; i < auth.cfg->proxy_auth_n_alg; i++) {
		snprintf(value, sizeof(value),
			 "Digest realm=\"%s\", nonce=\"%s\", algorithm=%s, qop=\"auth\"%s",
			 auth.cfg->proxy_auth_realm, nonce, alg_names[auth.cfg->proxy_auth_alg[i]],
			 stale ? ", stale=true" : "");
		if (osip_message_set_proxy_authenticate(resp, value) != 0) {
			osip_message_free(resp);
			return -ENOMEM;
		}
	}
	*out = resp;
	return 0;
}

int auth_check_request(osip_message_t *req, const struct sockaddr_in *src, uint64_t now_ms,
		       osip_message_t **challenge)
{
	enum verdict v = V_NONE;
	struct creds c;
	char a[ADDR_STRLEN];
	int rc;

	if (!auth.cfg || !auth.cfg->proxy_auth_realm[0])
		return 0;
	for (int i = 0; i < osip_list_size(&req->proxy_authorizations); i++) {
		osip_proxy_authorization_t *pa = osip_list_get(&req->proxy_authorizations, i);

		if (!is_ours(pa) || !creds_parse(pa, &c))
			continue;
		v = creds_verify(req, &c, now_ms);
		break;
	}
	if (v == V_OK) {
		log_debug(DBCLASS_AUTH, "%s of user '%s' from %s authenticated", req->sip_method,
			  printable(c.user), addr_str(src, a));
		creds_consume(req);
		return 0;
	}
	if (v == V_WRONG)
		log_ratelimited("auth-failed", 10, LOG_NOTICE,
				"authentication failed: %s of user '%.64s' from %s: unknown user "
				"or wrong password", req->sip_method, printable(c.user),
				addr_str(src, a));
	else if (v == V_REPLAY)
		log_ratelimited("auth-replay", 10, LOG_NOTICE,
				"authentication refused: %s of user '%.64s' from %s reuses a "
				"nonce count (replayed credentials)", req->sip_method,
				printable(c.user), addr_str(src, a));
	else
		log_debug(DBCLASS_AUTH, "%s from %s: challenged%s", req->sip_method,
			  addr_str(src, a), v == V_STALE ? " (stale nonce)" : "");
	rc = challenge_make(req, v == V_STALE, now_ms, challenge);
	return rc ? rc : 407;
}
