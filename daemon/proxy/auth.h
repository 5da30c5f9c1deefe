/* Digest authentication of REGISTER requests from the private side
 * (siproxd's proxy_auth_realm / proxy_auth_passwd / proxy_auth_pwfile):
 * RFC 3261 22.3 proxy authentication with RFC 7616 Digest (MD5 and
 * SHA-256, qop=auth) and tracked nonces (auth_nonce.h). Hashes are
 * OpenSSL libcrypto's EVP. */
#ifndef SIPMASQ_AUTH_H
#define SIPMASQ_AUTH_H

#include <netinet/in.h>
#include <stdint.h>

#include <osipparser2/osip_parser.h>

#include "daemon/config/config.h"

#define AUTH_HEX_MAX 64   /* hex characters of the longest hash (SHA-256) */

/* The inputs of one Digest response (RFC 7616 3.4.1), all NUL-terminated.
 * qop NULL: RFC 2069 compatibility (no nc and cnonce). */
struct auth_digest_in {
	const char *user, *realm, *password;
	const char *method, *uri;
	const char *nonce, *nc, *cnonce, *qop;
};

/* auth_digest_response: the response value for `in` with algorithm alg,
 * as lowercase hex into out (AUTH_HEX_MAX + 1 bytes). Returns 0, or -EIO
 * when libcrypto fails (e.g. MD5 refused in FIPS mode). */
int auth_digest_response(enum auth_alg alg, const struct auth_digest_in *in, char *out);

/* auth_init: take proxy_auth_* from cfg (which must outlive auth) and read
 * proxy_auth_pwfile, one "user password" per line, '#' comments. Returns
 * 0 (also when authentication is off); -EINVAL for a file that cannot be
 * read or a bad line, logged as FILE:LINE (a configuration error: exit 2). */
int auth_init(const struct sipmasq_config *cfg);

/* auth_fini: forget the passwords (wiped) and the nonces. */
void auth_fini(void);

/* auth_check_request: proxy authentication of request req from src at
 * now_ms (evloop_now_ms). Returns 0 when authentication is off or req
 * carries valid credentials of our realm: those Proxy-Authorization
 * headers are then removed (RFC 3261 22.3: a proxy consumes its own
 * credentials; others pass untouched). Otherwise returns 407 with
 * *challenge set to the 407 response to send back to src (fresh nonce;
 * one Proxy-Authenticate per algorithm of proxy_auth_algorithms, in its
 * order (default MD5 first: what MD5-only clients read; RFC 7616 3.7);
 * stale=true for an expired nonce with a right response); the caller sends
 * and frees it (osip_message_free). A wrong password is logged, rate
 * limited, naming user and source. Returns -ENOMEM/-EIO (nothing built)
 * when no challenge can be made: answer 500. */
int auth_check_request(osip_message_t *req, const struct sockaddr_in *src, uint64_t now_ms,
		       osip_message_t **challenge);

#endif
