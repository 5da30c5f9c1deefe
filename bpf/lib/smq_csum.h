/* Internet checksum arithmetic for the fast path (RFC 1071, RFC 1624).
 * Everything works on raw network-order memory: the one's complement sum
 * does not depend on byte order as long as both sides of an update use the
 * same one. */
#ifndef SMQ_CSUM_H
#define SMQ_CSUM_H

#include <linux/types.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

/* smq_csum_fold: fold a 32-bit partial sum (bpf_csum_diff's result) to 16
 * bits and complement it: the value to store in a checksum field. */
static __always_inline __u16 smq_csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* smq_csum_update: RFC 1624 eq. 3, HC' = ~(~HC + ~m + m'), for the 32-bit
 * words old[0..n) replaced by new[0..n) (n * 4 bytes, on the stack).
 * bpf_csum_diff computes seed + sum(~old) + sum(new). */
static __always_inline __u16 smq_csum_update(__u16 check, __be32 *old,
					     __be32 *new, __u32 bytes)
{
	__s64 sum = bpf_csum_diff(old, bytes, new, bytes, (__u16)~check);

	return smq_csum_fold((__u32)sum);
}

/* smq_csum_ttl_dec: IPv4 header checksum after TTL - 1 (the TTL is the high
 * byte of the 16-bit word it shares with the protocol, so the word drops by
 * 0x0100 and the checksum rises by as much, with end-around carry): the
 * same computation as the kernel's ip_decrease_ttl(). */
static __always_inline __u16 smq_csum_ttl_dec(__u16 check)
{
	__u32 c = (__u32)check + (__u32)bpf_htons(0x0100);

	return (__u16)(c + (c >= 0xffff));
}

#endif
