/* Shared helpers of the libFuzzer targets (tests/fuzz/fuzz_*.c). */
#ifndef SIPMASQ_FUZZ_H
#define SIPMASQ_FUZZ_H

#include <stdint.h>
#include <stddef.h>

/* libFuzzer's entry points (no header of its own). */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_log_setup: silence sipmasq's log and libosip2's trace (every input
 * would print lines, which is slow), unless FUZZ_LOG=1 is in the
 * environment: then everything is printed to stderr (all debug classes). */
void fuzz_log_setup(void);

/* fuzz_media_setup: what the SIP and SDP targets share at start: quiet logs
 * (fuzz_log_setup), libosip2's parser, the event loop and a relay port
 * range [low, high] (host order) on loopback. Aborts on failure. */
void fuzz_media_setup(uint16_t low, uint16_t high);

#endif
