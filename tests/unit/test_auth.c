/* Unit tests of Digest authentication (daemon/proxy/auth.c, daemon/proxy/auth_nonce.c):
 * the RFC example response values, nonce expiry and replay with an
 * injected clock, the 407 challenge and the consumed credentials, and the
 * password file reader. */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/proxy/auth.h"
#include "daemon/proxy/auth_nonce.h"
#include "daemon/config/config.h"
#include "daemon/sip/sip_msg.h"
#include "tests/unit/unit.h"

#define T0 1000000u   /* ms: an arbitrary start of the injected clock */

/* RFC 2617 section 3.5 (MD5, qop=auth) and RFC 7616 section 3.9.1 (the
 * same request with SHA-256 and MD5). */
static void test_rfc_examples(void)
{
	struct auth_digest_in r2617 = {
		.user = "Mufasa", .realm = "testrealm@host.com", .password = "Circle Of Life",
		.method = "GET", .uri = "/dir/index.html",
		.nonce = "dcd98b7102dd2f0e8b11d0f600bfb0c093", .nc = "00000001",
		.cnonce = "0a4f113b", .qop = "auth",
	};
	struct auth_digest_in r7616 = {
		.user = "Mufasa", .realm = "http-auth@example.org", .password = "Circle of Life",
		.method = "GET", .uri = "/dir/index.html",
		.nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", .nc = "00000001",
		.cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", .qop = "auth",
	};
	char out[AUTH_HEX_MAX + 1];

	CHECK_INT(auth_digest_response(AUTH_ALG_MD5, &r2617, out), 0);
	CHECK_STR(out, "6629fae49393a05397450978507c4ef1");
	CHECK_INT(auth_digest_response(AUTH_ALG_SHA256, &r7616, out), 0);
	CHECK_STR(out, "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
	CHECK_INT(auth_digest_response(AUTH_ALG_MD5, &r7616, out), 0);
	CHECK_STR(out, "8ca523f5e9506fed4657c9700eebdbec");
}

static void test_nonce_table(void)
{
	char n1[AUTH_NONCE_LEN + 1], n2[AUTH_NONCE_LEN + 1], first[AUTH_NONCE_LEN + 1];

	auth_nonce_reset();
	CHECK_INT(auth_nonce_new(T0, n1), 0);
	CHECK_INT(auth_nonce_new(T0, n2), 0);
	CHECK_INT(strlen(n1), AUTH_NONCE_LEN);
	CHECK(strcmp(n1, n2) != 0);
	CHECK_INT(auth_nonce_check(n1, 1, "b", T0 + 1000), AUTH_NONCE_FRESH);
	/* check alone changes nothing: a bad guess burns no count */
	CHECK_INT(auth_nonce_check(n1, 1, "b", T0 + 1000), AUTH_NONCE_FRESH);
	auth_nonce_use(n1, 1, "b", T0 + 1000);
	CHECK_INT(auth_nonce_check(n1, 1, "b2", T0 + 1000), AUTH_NONCE_REPLAY);
	CHECK_INT(auth_nonce_check(n1, 1, "b", T0 + 1000), AUTH_NONCE_RETRANS);
	CHECK_INT(auth_nonce_check(n1, 2, "b", T0 + 1000), AUTH_NONCE_FRESH);
	auth_nonce_use(n1, 5, "b5", T0 + 1000);
	CHECK_INT(auth_nonce_check(n1, 4, "b", T0 + 1000), AUTH_NONCE_REPLAY);
	CHECK_INT(auth_nonce_check(n1, 6, "b", T0 + 1000), AUTH_NONCE_FRESH);
	/* a retransmission (same nc and Via branch) within Timer F passes */
	CHECK_INT(auth_nonce_check(n1, 5, "b5", T0 + 2000), AUTH_NONCE_RETRANS);
	CHECK_INT(auth_nonce_check(n1, 5, "b5", T0 + 1000 + AUTH_NONCE_RETRANS_MS),
		  AUTH_NONCE_REPLAY);
	CHECK_INT(auth_nonce_check(n1, 5, "other", T0 + 2000), AUTH_NONCE_REPLAY);
	CHECK_INT(auth_nonce_check(n1, 5, NULL, T0 + 2000), AUTH_NONCE_REPLAY);
	/* expiry */
	CHECK_INT(auth_nonce_check(n2, 1, "b", T0 + AUTH_NONCE_LIFETIME_MS - 1), AUTH_NONCE_FRESH);
	CHECK_INT(auth_nonce_check(n2, 1, "b", T0 + AUTH_NONCE_LIFETIME_MS), AUTH_NONCE_STALE);
	CHECK_INT(auth_nonce_check("0123456789abcdef0123456789abcdef", 1, "b", T0), AUTH_NONCE_UNKNOWN);
	CHECK_INT(auth_nonce_check("short", 1, "b", T0), AUTH_NONCE_UNKNOWN);
	CHECK_INT(auth_nonce_check(NULL, 1, "b", T0), AUTH_NONCE_UNKNOWN);
	/* proxy_auth_nonce_lifetime */
	auth_nonce_set_lifetime(1000);
	CHECK_INT(auth_nonce_check(n2, 1, "b", T0 + 999), AUTH_NONCE_FRESH);
	CHECK_INT(auth_nonce_check(n2, 1, "b", T0 + 1000), AUTH_NONCE_STALE);
	auth_nonce_set_lifetime(AUTH_NONCE_LIFETIME_MS);
	/* bounded: AUTH_NONCE_MAX newer nonces evict the oldest */
	auth_nonce_reset();
	CHECK_INT(auth_nonce_new(T0, first), 0);
	for (unsigned i = 0; i < AUTH_NONCE_MAX - 1; i++)
		auth_nonce_new(T0, n1);
	CHECK_INT(auth_nonce_check(first, 1, "b", T0), AUTH_NONCE_FRESH);
	auth_nonce_new(T0, n1);
	CHECK_INT(auth_nonce_check(first, 1, "b", T0), AUTH_NONCE_UNKNOWN);
	CHECK_INT(auth_nonce_check(n1, 1, "b", T0), AUTH_NONCE_FRESH);
}

static osip_message_t *parse(const char *text)
{
	osip_message_t *msg = NULL;

	if (sipmsg_parse(text, strlen(text), &msg) != 0) {
		fprintf(stderr, "cannot parse test message:\n%s\n", text);
		exit(99);
	}
	return msg;
}

#define REGISTER_HEAD \
	"REGISTER sip:10.0.0.1 SIP/2.0\r\n" \
	"Via: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK1;rport\r\n" \
	"From: <sip:alice@10.0.0.1>;tag=1\r\nTo: <sip:alice@10.0.0.1>\r\n" \
	"Call-ID: c1@10.0.0.2\r\nCSeq: 2 REGISTER\r\n" \
	"Contact: <sip:alice@10.0.0.2:5060>\r\nMax-Forwards: 70\r\n"

/* A REGISTER answering `nonce` with password pw, algorithm alg, count nc,
 * plus an upstream registrar's Proxy-Authorization that must pass. Its Via
 * branch is `branch`, or a new one when NULL. */
static osip_message_t *answer(const char *nonce, const char *pw, enum auth_alg alg,
			      const char *nc, const char *branch)
{
	static unsigned n_branch;
	char own_branch[32];
	osip_generic_param_t *bp = NULL;
	osip_message_t *msg;
	osip_via_t *via;
	struct auth_digest_in in = {
		.user = "alice", .realm = "gw realm", .password = pw, .method = "REGISTER",
		.uri = "sip:10.0.0.1", .nonce = nonce, .nc = nc, .cnonce = "c0ffee", .qop = "auth",
	};
	char resp[AUTH_HEX_MAX + 1], text[2048];

	auth_digest_response(alg, &in, resp);
	snprintf(text, sizeof(text), REGISTER_HEAD
		 "Proxy-Authorization: Digest username=\"alice\", realm=\"provider\", "
		 "nonce=\"abc\", uri=\"sip:x\", response=\"0123\"\r\n"
		 "Proxy-Authorization: Digest username=\"alice\", realm=\"gw realm\", "
		 "nonce=\"%s\", uri=\"sip:10.0.0.1\", response=\"%s\", algorithm=%s, "
		 "qop=auth, nc=%s, cnonce=\"c0ffee\"\r\n"
		 "Content-Length: 0\r\n\r\n", nonce, resp,
		 alg == AUTH_ALG_MD5 ? "MD5" : "SHA-256", nc);
	msg = parse(text);
	if (!branch) {
		snprintf(own_branch, sizeof(own_branch), "z9hG4bKu%u", ++n_branch);
		branch = own_branch;
	}
	via = osip_list_get(&msg->vias, 0);
	osip_via_param_get_byname(via, "branch", &bp);
	osip_free(bp->gvalue);
	bp->gvalue = osip_strdup(branch);
	return msg;
}

/* Run auth_check_request; on 407 return the challenge's nonce (from the
 * first Proxy-Authenticate) into nonce and its stale flag. */
static int check(osip_message_t *req, uint64_t now, char *nonce, bool *stale)
{
	struct sockaddr_in src = { .sin_family = AF_INET, .sin_port = htons(5060) };
	osip_message_t *ch = NULL;
	osip_proxy_authenticate_t *pa;
	int rc;

	inet_pton(AF_INET, "10.0.0.2", &src.sin_addr);
	rc = auth_check_request(req, &src, now, &ch);
	if (rc != 407)
		return rc;
	CHECK_INT(ch->status_code, 407);
	CHECK_INT(osip_list_size(&ch->proxy_authenticates), 2);
	pa = osip_list_get(&ch->proxy_authenticates, 0);
	CHECK_STR(pa->algorithm, "MD5");   /* the default order: MD5 first */
	CHECK_STR(pa->realm, "\"gw realm\"");
	CHECK_STR(pa->qop_options, "\"auth\"");
	snprintf(nonce, AUTH_NONCE_LEN + 1, "%s", pa->nonce ? pa->nonce + 1 : "");
	*stale = pa->stale && !strcasecmp(pa->stale, "true");
	pa = osip_list_get(&ch->proxy_authenticates, 1);
	CHECK_STR(pa->algorithm, "SHA-256");
	osip_message_free(ch);
	return rc;
}

/* auth_check_request with proxy_auth_algorithms = MD5: one challenge. */
static int check_md5_only(osip_message_t *req, uint64_t now)
{
	struct sockaddr_in src = { .sin_family = AF_INET, .sin_port = htons(5060) };
	osip_message_t *ch = NULL;
	osip_proxy_authenticate_t *pa;
	int rc = auth_check_request(req, &src, now, &ch);

	if (rc != 407)
		return rc;
	CHECK_INT(osip_list_size(&ch->proxy_authenticates), 1);
	pa = osip_list_get(&ch->proxy_authenticates, 0);
	CHECK_STR(pa->algorithm, "MD5");
	osip_message_free(ch);
	return rc;
}

static void test_check_request(void)
{
	static struct sipmasq_config cfg;
	char nonce[AUTH_NONCE_LEN + 1], again[AUTH_NONCE_LEN + 1];
	osip_message_t *req;
	osip_proxy_authorization_t *left;
	bool stale;

	config_defaults(&cfg);
	CHECK_INT(auth_init(&cfg), 0);   /* off: everything passes */
	req = parse(REGISTER_HEAD "Content-Length: 0\r\n\r\n");
	CHECK_INT(check(req, T0, nonce, &stale), 0);

	snprintf(cfg.proxy_auth_realm, sizeof(cfg.proxy_auth_realm), "gw realm");
	snprintf(cfg.proxy_auth_passwd, sizeof(cfg.proxy_auth_passwd), "secret");
	CHECK_INT(auth_init(&cfg), 0);
	CHECK_INT(check(req, T0, nonce, &stale), 407);
	CHECK(!stale);
	osip_message_free(req);

	/* right password (SHA-256): accepted, only our header consumed */
	req = answer(nonce, "secret", AUTH_ALG_SHA256, "00000001", "z9hG4bKr1");
	CHECK_INT(check(req, T0 + 1000, again, &stale), 0);
	CHECK_INT(osip_list_size(&req->proxy_authorizations), 1);
	left = osip_list_get(&req->proxy_authorizations, 0);
	CHECK(left && !strcmp(left->realm, "\"provider\""));
	osip_message_free(req);
	/* the same again: a retransmission passes, a replay does not */
	req = answer(nonce, "secret", AUTH_ALG_SHA256, "00000001", "z9hG4bKr1");
	CHECK_INT(check(req, T0 + 1500, again, &stale), 0);
	osip_message_free(req);
	req = answer(nonce, "secret", AUTH_ALG_SHA256, "00000001", NULL);
	CHECK_INT(check(req, T0 + 2000, again, &stale), 407);
	CHECK(!stale);
	CHECK(strcmp(again, nonce) != 0);
	osip_message_free(req);
	/* the next count (MD5 this time) is fine */
	req = answer(nonce, "secret", AUTH_ALG_MD5, "00000002", NULL);
	CHECK_INT(check(req, T0 + 3000, again, &stale), 0);
	osip_message_free(req);
	/* wrong password: 407, not stale */
	req = answer(nonce, "wrong", AUTH_ALG_MD5, "00000003", NULL);
	CHECK_INT(check(req, T0 + 4000, again, &stale), 407);
	CHECK(!stale);
	osip_message_free(req);
	/* expired: right password, stale=true and a new nonce */
	req = answer(nonce, "secret", AUTH_ALG_MD5, "00000003", NULL);
	CHECK_INT(check(req, T0 + AUTH_NONCE_LIFETIME_MS + 1, again, &stale), 407);
	CHECK(stale);
	CHECK(strcmp(again, nonce) != 0);
	osip_message_free(req);
	/* proxy_auth_algorithms = MD5: one challenge, SHA-256 refused */
	cfg.proxy_auth_alg[0] = AUTH_ALG_MD5;
	cfg.proxy_auth_n_alg = 1;
	req = answer(nonce, "secret", AUTH_ALG_SHA256, "00000009", NULL);
	CHECK_INT(check_md5_only(req, T0 + 5000), 407);
	osip_message_free(req);
	cfg.proxy_auth_alg[0] = AUTH_ALG_MD5;
	cfg.proxy_auth_alg[1] = AUTH_ALG_SHA256;
	cfg.proxy_auth_n_alg = 2;
	/* a nonce never issued: stale=true too (e.g. after a restart) */
	req = answer("00112233445566778899aabbccddeeff", "secret", AUTH_ALG_MD5, "00000001", NULL);
	CHECK_INT(check(req, T0, again, &stale), 407);
	CHECK(stale);
	osip_message_free(req);
	auth_fini();
}

static char tmpdir[64];

static const char *write_file(const char *name, const char *text)
{
	static char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f)) {
		perror(path);
		exit(99);
	}
	return path;
}

static void test_pwfile(void)
{
	static struct sipmasq_config cfg;
	char nonce[AUTH_NONCE_LEN + 1];
	osip_message_t *req;
	bool stale;
	int saved = dup(STDERR_FILENO);

	config_defaults(&cfg);
	snprintf(cfg.proxy_auth_realm, sizeof(cfg.proxy_auth_realm), "gw realm");
	snprintf(cfg.proxy_auth_passwd, sizeof(cfg.proxy_auth_passwd), "not-this-one");
	snprintf(cfg.proxy_auth_pwfile, sizeof(cfg.proxy_auth_pwfile), "%s",
		 write_file("pw", "# users\n\n  # indented comment\nbob b0b\nalice s3cret # note\n"));
	CHECK_INT(auth_init(&cfg), 0);
	req = parse(REGISTER_HEAD "Content-Length: 0\r\n\r\n");
	CHECK_INT(check(req, T0, nonce, &stale), 407);
	osip_message_free(req);
	/* the file wins over proxy_auth_passwd (siproxd) */
	req = answer(nonce, "s3cret", AUTH_ALG_MD5, "00000001", NULL);
	CHECK_INT(check(req, T0, nonce, &stale), 0);
	osip_message_free(req);
	req = answer(nonce, "not-this-one", AUTH_ALG_MD5, "00000002", NULL);
	CHECK_INT(check(req, T0, nonce, &stale), 407);
	osip_message_free(req);

	/* errors: quiet them, the FILE:LINE format is checked by hand above */
	fflush(stderr);
	if (freopen("/dev/null", "w", stderr) == NULL)
		exit(99);
	snprintf(cfg.proxy_auth_pwfile, sizeof(cfg.proxy_auth_pwfile), "%s",
		 write_file("bad", "alice\n"));
	CHECK_INT(auth_init(&cfg), -EINVAL);
	snprintf(cfg.proxy_auth_pwfile, sizeof(cfg.proxy_auth_pwfile), "%s",
		 write_file("bad2", "alice pass word\n"));
	CHECK_INT(auth_init(&cfg), -EINVAL);
	snprintf(cfg.proxy_auth_pwfile, sizeof(cfg.proxy_auth_pwfile), "%s/missing", tmpdir);
	CHECK_INT(auth_init(&cfg), -EINVAL);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	auth_fini();
}

int main(void)
{
	char cmd[300];

	parser_init();
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_auth.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 99;
	}
	test_rfc_examples();
	test_nonce_table();
	test_check_request();
	test_pwfile();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return unit_summary();
}
