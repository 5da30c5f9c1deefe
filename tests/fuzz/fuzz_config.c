/* libFuzzer target: the configuration parser. Each input is a
 * configuration file (written to a memfd, read back through
 * /proc/self/fd/N like any path), loaded over the defaults and checked. */
#include "autoconfig.h"   /* _GNU_SOURCE: memfd_create */

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "daemon/config/config.h"
#include "tests/fuzz/fuzz.h"

static int memfd = -1;
static char path[64];
static struct sipmasq_config cfg;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_log_setup();
	memfd = memfd_create("sipmasq-fuzz-config", MFD_CLOEXEC);
	if (memfd < 0)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (ftruncate(memfd, 0) != 0 ||
	    (size && pwrite(memfd, data, size, 0) != (ssize_t)size))
		abort();
	config_defaults(&cfg);
	config_load(path, &cfg);
	config_check(&cfg);   /* main() checks after a bad value too */
	return 0;
}
