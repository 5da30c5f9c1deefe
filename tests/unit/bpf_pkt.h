/* Ethernet/IPv4/UDP frames for the fast path's golden tests (header-only,
 * tests only): build a frame with correct checksums, and verify the
 * checksums of a frame from scratch (RFC 1071), independently of the
 * incremental arithmetic under test. */
#ifndef SIPMASQ_TESTS_BPF_PKT_H
#define SIPMASQ_TESTS_BPF_PKT_H

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PKT_OFF_IP  ((size_t)ETH_HLEN)
#define PKT_OFF_UDP (PKT_OFF_IP + sizeof(struct iphdr))
#define PKT_OFF_PAY (PKT_OFF_UDP + sizeof(struct udphdr))

/* A frame: len bytes of b. b starts 2 bytes into a 4-aligned struct so
 * that the IP header (b + 14) is 4-aligned, as drivers arrange it
 * (NET_IP_ALIGN): header fields can then be accessed in place. */
struct pkt {
	uint8_t align[2];
	uint8_t b[2048];
	size_t len;
};

/* pkt_ip, pkt_udp: the headers of an untagged frame without IP options. */
static inline struct iphdr *pkt_ip(struct pkt *p)
{
	return (struct iphdr *)(p->b + PKT_OFF_IP);
}

static inline struct udphdr *pkt_udp(struct pkt *p)
{
	return (struct udphdr *)(p->b + PKT_OFF_UDP);
}

/* pkt_sum: one's complement sum of len bytes as big-endian 16-bit words,
 * added to sum (not folded). */
static inline uint32_t pkt_sum(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *b = data;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		sum += (uint32_t)(b[len - 1] << 8);
	return sum;
}

/* pkt_fold: fold a sum to 16 bits (not complemented). */
static inline uint16_t pkt_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* pkt_ip_csum: the IPv4 header checksum (host order) the header should
 * carry, computed with its check field taken as zero. */
static inline uint16_t pkt_ip_csum(const struct iphdr *ip)
{
	struct iphdr h = *ip;

	h.check = 0;
	return (uint16_t)~pkt_fold(pkt_sum(0, &h, sizeof(h)));
}

/* pkt_udp_csum: the UDP checksum (host order) the datagram should carry:
 * pseudo header + header (check as zero) + payload; a computed 0 is 0xffff. */
static inline uint16_t pkt_udp_csum(const struct iphdr *ip, const struct udphdr *udp)
{
	size_t len = ntohs(udp->len);
	struct udphdr h = *udp;
	uint32_t sum = 0;
	uint16_t c;

	sum = pkt_sum(sum, &ip->saddr, 4);
	sum = pkt_sum(sum, &ip->daddr, 4);
	sum += IPPROTO_UDP;
	sum += (uint32_t)len;
	h.check = 0;
	sum = pkt_sum(sum, &h, sizeof(h));
	sum = pkt_sum(sum, udp + 1, len - sizeof(h));
	c = (uint16_t)~pkt_fold(sum);
	return c ? c : 0xffff;
}

/* Addresses of a test frame (host-order ports). */
struct pkt_spec {
	const char *src, *dst;
	uint16_t sport, dport;
	uint8_t ttl;
	bool no_udp_csum;     /* send a zero UDP checksum ("none") */
};

/* pkt_build: a valid frame from 02:00:00:00:0a:02 to 02:00:00:00:0a:01 with
 * the given payload; short frames are padded to 60 bytes like Ethernet. */
static inline void pkt_build(struct pkt *p, const struct pkt_spec *s, const void *payload,
			     size_t plen)
{
	static const uint8_t dmac[ETH_ALEN] = { 2, 0, 0, 0, 0x0a, 1 };
	static const uint8_t smac[ETH_ALEN] = { 2, 0, 0, 0, 0x0a, 2 };
	struct ethhdr *eth = (struct ethhdr *)p->b;
	struct iphdr *ip = pkt_ip(p);
	struct udphdr *udp = pkt_udp(p);

	memset(p, 0, sizeof(*p));
	memcpy(eth->h_dest, dmac, ETH_ALEN);
	memcpy(eth->h_source, smac, ETH_ALEN);
	eth->h_proto = htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->tos = 0xb8;   /* EF, as RTP is often marked */
	ip->tot_len = htons((uint16_t)(sizeof(*ip) + sizeof(*udp) + plen));
	ip->id = htons(0x1234);
	ip->frag_off = htons(0x4000);   /* DF */
	ip->ttl = s->ttl ? s->ttl : 64;
	ip->protocol = IPPROTO_UDP;
	inet_pton(AF_INET, s->src, &ip->saddr);
	inet_pton(AF_INET, s->dst, &ip->daddr);
	ip->check = htons(pkt_ip_csum(ip));
	udp->source = htons(s->sport);
	udp->dest = htons(s->dport);
	udp->len = htons((uint16_t)(sizeof(*udp) + plen));
	memcpy(p->b + PKT_OFF_PAY, payload, plen);
	udp->check = s->no_udp_csum ? 0 : htons(pkt_udp_csum(ip, udp));
	p->len = PKT_OFF_PAY + plen;
	if (p->len < 60)
		p->len = 60;
}

/* pkt_csums_ok: both checksums of the frame are right (a zero UDP
 * checksum counts as right: "no checksum"). */
static inline bool pkt_csums_ok(struct pkt *p)
{
	struct iphdr *ip = pkt_ip(p);
	struct udphdr *udp = pkt_udp(p);

	if (ntohs(ip->check) != pkt_ip_csum(ip))
		return false;
	return !udp->check || ntohs(udp->check) == pkt_udp_csum(ip, udp);
}

/* pkt_ip4: the IPv4 address of a dotted quad, network order. */
static inline uint32_t pkt_ip4(const char *s)
{
	struct in_addr a;

	inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

#endif
