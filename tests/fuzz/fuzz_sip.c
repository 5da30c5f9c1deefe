/* libFuzzer target: SIP datagrams through the whole signalling path of the
 * proxy (libosip2 parse, classification, routing, registrations, Via stash,
 * Record-Route, SDP rewrite with real relay streams on loopback, serialise),
 * with no network: proxy_init_offline() opens no SIP socket, so forwarding
 * and answers end in sip_transport_send() returning -EBADF.
 *
 * Input: up to MAX_RECORDS datagrams separated by RECORD_SEP, so that a
 * REGISTER and the INVITE that uses its binding, or an INVITE and its 200
 * OK, can meet in one input. The first byte of each record picks its
 * source (below); the rest is the datagram. The first byte of the whole
 * input also picks one of two configurations (bit 7). TOKEN_MARK in a
 * record stands for the smqid token of the newest binding. All state (calls and
 * their relay ports, bindings, stashed Vias) is dropped after each input,
 * so an input alone reproduces what it found. */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <osipparser2/osip_parser.h>

#include "daemon/base/acl.h"
#include "daemon/media/calls.h"
#include "daemon/proxy/auth.h"
#include "daemon/config/config.h"
#include "daemon/base/evloop.h"
#include "daemon/base/iface.h"
#include "kmod-free-fallback/media.h"
#include "daemon/proxy/registrations.h"
#include "daemon/proxy/sip_proxy.h"
#include "daemon/transport/sip_transport.h"
#include "daemon/proxy/via_stash.h"
#include "tests/fuzz/fuzz.h"

#define RECORD_SEP "@@NEXT@@"
#define MAX_RECORDS 8
#define TOKEN_MARK "@@TOK@@"
/* Relay ports, bound for real on 127.0.0.1 and 127.0.0.2. High, and
 * released after every input. */
#define FUZZ_RTP_LOW 47000
#define FUZZ_RTP_HIGH 47199
#define PRIV_IFINDEX 2
#define PUB_IFINDEX 3

static struct sipmasq_config cfg[2];
static struct iface_side sides[2];
static char dgram[SIP_MAX_DATAGRAM + 1];

/* cfg[0]: defaults with the relay. cfg[1]: host_outbound, an outbound
 * proxy and an outbound_domain entry (other next-hop paths), access lists,
 * proxy authentication, a mask_host pair, obscure_loops and no rport
 * toward the public side. */
static void configs_setup(void)
{
	char why[128];

	for (int i = 0; i < 2; i++) {
		config_defaults(&cfg[i]);
		strcpy(cfg[i].if_inbound, "fuzz-priv");
		strcpy(cfg[i].if_outbound, "fuzz-pub");
		cfg[i].rtp_proxy_enable = true;
		cfg[i].rtp_port_low = FUZZ_RTP_LOW;
		cfg[i].rtp_port_high = FUZZ_RTP_HIGH;
		cfg[i].registration_file[0] = '\0';
		cfg[i].log_calls = true;
	}
	strcpy(cfg[1].host_outbound, "203.0.113.1");
	strcpy(cfg[1].outbound_proxy_host, "192.0.2.50");
	cfg[1].outbound_proxy_port = 5070;
	cfg[1].outbound_domain_name.n = cfg[1].outbound_domain_host.n =
		cfg[1].outbound_domain_port.n = 1;
	strcpy(cfg[1].outbound_domain_name.item[0], "example.com");
	strcpy(cfg[1].outbound_domain_host.item[0], "192.0.2.60");
	strcpy(cfg[1].outbound_domain_port.item[0], "5080");
	/* Digest authentication of REGISTER: the Proxy-Authorization parsing. */
	strcpy(cfg[1].proxy_auth_realm, "fuzz realm");
	strcpy(cfg[1].proxy_auth_passwd, "fuzz");
	cfg[1].mask_host.n = cfg[1].masked_host.n = 1;
	strcpy(cfg[1].mask_host.item[0], "192.168.1.1");
	strcpy(cfg[1].masked_host.item[0], "voip.example.com");
	cfg[1].obscure_loops = true;
	cfg[1].use_rport = 1;
	/* Access lists: 198.51.100.16/28 (source kind 3, hosts 6-15) denied,
	 * REGISTER only from the private LAN and loopback. */
	if (acl_parse("198.51.100.16/28", &cfg[1].hosts_deny_sip, why, sizeof(why)) ||
	    acl_parse("192.168.1.0/24, 127.0.0.0/8", &cfg[1].hosts_allow_reg, why, sizeof(why)))
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_media_setup(FUZZ_RTP_LOW, FUZZ_RTP_HIGH);
	configs_setup();
	/* Private side 127.0.0.1/8 (so 127.x sources are private twice over:
	 * subnet and loopback), public side 127.0.0.2: both bindable. */
	strcpy(sides[MEDIA_PRIVATE].name, "fuzz-priv");
	sides[MEDIA_PRIVATE].ifindex = PRIV_IFINDEX;
	inet_pton(AF_INET, "127.0.0.1", &sides[MEDIA_PRIVATE].addr);
	inet_pton(AF_INET, "255.0.0.0", &sides[MEDIA_PRIVATE].netmask);
	strcpy(sides[MEDIA_PUBLIC].name, "fuzz-pub");
	sides[MEDIA_PUBLIC].ifindex = PUB_IFINDEX;
	inet_pton(AF_INET, "127.0.0.2", &sides[MEDIA_PUBLIC].addr);
	inet_pton(AF_INET, "255.255.255.0", &sides[MEDIA_PUBLIC].netmask);
	return 0;
}

/* Source of a record from its selector byte: bits 0-1 the kind, bits 2-5
 * the host, bit 6 the port. */
static void source_of(uint8_t sel, struct sockaddr_in *src, int *ifindex)
{
	static const char *const nets[4] = {
		"192.168.1.0",    /* private LAN, arrives on the private interface */
		"127.0.0.0",      /* loopback: private whatever the interface */
		"203.0.113.0",    /* public peer on the public interface */
		"198.51.100.0",   /* public peer, interface unknown */
	};
	static const int ifx[4] = { PRIV_IFINDEX, 0, PUB_IFINDEX, 0 };
	struct in_addr net;

	inet_pton(AF_INET, nets[sel & 3], &net);
	memset(src, 0, sizeof(*src));
	src->sin_family = AF_INET;
	src->sin_addr.s_addr = htonl(ntohl(net.s_addr) + 10 + ((sel >> 2) & 15));
	src->sin_port = htons(sel & 0x40 ? 5062 : 5060);
	*ifindex = ifx[sel & 3];
}

/* Copy p (n bytes) to dgram with each TOKEN_MARK replaced by the smqid
 * token of the newest binding (random, so the input could not spell it).
 * Returns the length, NUL-terminated after it. */
static size_t dgram_build(const uint8_t *p, size_t n)
{
	const struct binding *b = reg_head();
	const size_t mlen = strlen(TOKEN_MARK);
	size_t len = 0;

	for (size_t i = 0; i < n && len < SIP_MAX_DATAGRAM;) {
		if (b && n - i >= mlen && !memcmp(p + i, TOKEN_MARK, mlen) &&
		    len + REG_TOKEN_LEN <= SIP_MAX_DATAGRAM) {
			memcpy(dgram + len, b->token, REG_TOKEN_LEN);
			len += REG_TOKEN_LEN;
			i += mlen;
		} else {
			dgram[len++] = (char)p[i++];
		}
	}
	dgram[len] = '\0';
	return len;
}

static void one_record(const uint8_t *p, size_t n)
{
	struct sockaddr_in src;
	int ifindex;
	size_t len;

	if (n < 1)
		return;
	source_of(p[0], &src, &ifindex);
	/* As the transport hands it over: a copy, NUL-terminated after len. */
	len = dgram_build(p + 1, n - 1);
	proxy_input(dgram, len, &src, ifindex);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const size_t seplen = strlen(RECORD_SEP);
	size_t off = 0;

	if (size == 0)
		return 0;
	proxy_init_offline(&cfg[data[0] >> 7], sides);
	auth_init(&cfg[data[0] >> 7]);   /* no pwfile: cannot fail */
	for (int r = 0; r < MAX_RECORDS && off < size; r++) {
		const uint8_t *p = data + off;
		const uint8_t *sep = memmem(p, size - off, RECORD_SEP, seplen);
		size_t n = sep ? (size_t)(sep - p) : size - off;

		one_record(p, n);
		off += n + (sep ? seplen : 0);
	}
	/* Drop the state this input made (ports go back to the pool). */
	calls_fini(false);
	via_stash_fini();
	reg_fini();
	return 0;
}
