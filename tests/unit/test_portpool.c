/* Unit tests of the relay port pool (kmod-free-fallback/portpool.c). */
#include "autoconfig.h"   /* autoconf; <> so that daemon/config/config.h is never picked */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "kmod-free-fallback/portpool.h"
#include "tests/unit/unit.h"

/* Range rounding: low up to even, high down so that port+1 fits. */
static void test_rounding(void)
{
	struct portpool p;
	uint16_t port;

	CHECK_INT(portpool_init(&p, 7070, 7089), 0);
	CHECK_INT(portpool_size(&p), 10);
	CHECK_INT(portpool_free_count(&p), 10);
	portpool_fini(&p);

	CHECK_INT(portpool_init(&p, 7071, 7090), 0);   /* 7072 .. 7088/7089 */
	CHECK_INT(portpool_size(&p), 9);
	bool lo = false, hi = false;
	for (unsigned i = 0; i < 9; i++) {
		CHECK_INT(portpool_get(&p, &port), 0);
		CHECK(port >= 7072 && port <= 7088 && port % 2 == 0);
		lo |= port == 7072;
		hi |= port == 7088;
	}
	CHECK(lo && hi);
	portpool_fini(&p);

	CHECK_INT(portpool_init(&p, 7070, 7071), 0);
	CHECK_INT(portpool_size(&p), 1);
	portpool_fini(&p);

	CHECK_INT(portpool_init(&p, 65534, 65535), 0);   /* top of the port space */
	CHECK_INT(portpool_get(&p, &port), 0);
	CHECK_INT(port, 65534);
	portpool_fini(&p);

	CHECK_INT(portpool_init(&p, 0, 3), 0);   /* port 0 is never handed out */
	CHECK_INT(portpool_size(&p), 1);
	CHECK_INT(portpool_get(&p, &port), 0);
	CHECK_INT(port, 2);
	portpool_fini(&p);

	CHECK_INT(portpool_init(&p, 7070, 7070), -EINVAL);
	CHECK_INT(portpool_init(&p, 7071, 7072), -EINVAL);
	CHECK_INT(portpool_init(&p, 8000, 7000), -EINVAL);
	CHECK_INT(portpool_init(&p, 0, 1), -EINVAL);
	CHECK_INT(portpool_init(&p, 0, 0), -EINVAL);
	CHECK_INT(portpool_free_count(&p), 0);      /* failed init leaves an empty pool */
	CHECK_INT(portpool_get(&p, &port), -ENOSPC);
	portpool_fini(&p);
}

/* Exhaustion, put/get, double free, foreign ports. Uses a range that spans
 * several bitmap words to exercise the wrap-around scan. */
static void test_get_put(void)
{
	enum { N = 150 };
	struct portpool p;
	static bool seen[N];
	uint16_t port, ports[N];

	CHECK_INT(portpool_init(&p, 20000, 20000 + 2 * N - 1), 0);
	CHECK_INT(portpool_size(&p), N);
	for (unsigned i = 0; i < N; i++) {
		if (!CHECK_INT(portpool_get(&p, &ports[i]), 0))
			return;
		unsigned idx = (ports[i] - 20000u) / 2;
		CHECK(ports[i] % 2 == 0 && idx < N && !seen[idx]);
		if (idx < N)
			seen[idx] = true;
		CHECK_INT(portpool_free_count(&p), N - 1 - i);
	}
	CHECK_INT(portpool_get(&p, &port), -ENOSPC);

	/* One freed pair is the only possible next draw, wherever it is. */
	for (unsigned i = 0; i < N; i += 37) {
		CHECK_INT(portpool_put(&p, ports[i]), 0);
		CHECK_INT(portpool_free_count(&p), 1);
		CHECK_INT(portpool_get(&p, &port), 0);
		CHECK_INT(port, ports[i]);
	}

	CHECK_INT(portpool_put(&p, 20001), -EINVAL);            /* odd: not a pair */
	CHECK_INT(portpool_put(&p, 19998), -EINVAL);            /* below range */
	CHECK_INT(portpool_put(&p, 20000 + 2 * N), -EINVAL);    /* above range */
	CHECK_INT(portpool_put(&p, ports[0]), 0);
	CHECK_INT(portpool_put(&p, ports[0]), -EINVAL);         /* double free */
	CHECK_INT(portpool_free_count(&p), 1);
	for (unsigned i = 1; i < N; i++)
		CHECK_INT(portpool_put(&p, ports[i]), 0);
	CHECK_INT(portpool_free_count(&p), N);
	portpool_fini(&p);
	portpool_fini(&p);   /* idempotent */
}

/* Draws start at random positions: a run of draws from a large, empty pool
 * is not a sequence of neighbours, and two fresh pools do not start alike
 * every time. (A sequential allocator fails both with certainty; a random
 * one fails with probability well below 1e-9.) */
static void test_random(void)
{
	struct portpool p;
	uint16_t prev = 0, port;
	unsigned sequential = 0;

	CHECK_INT(portpool_init(&p, 10000, 19999), 0);   /* 5000 pairs */
	for (unsigned i = 0; i < 20; i++) {
		CHECK_INT(portpool_get(&p, &port), 0);
		if (i && port == prev + 2)
			sequential++;
		prev = port;
	}
	CHECK(sequential < 10);
	portpool_fini(&p);

	unsigned same_first = 0;
	uint16_t first0 = 0;
	for (unsigned i = 0; i < 8; i++) {
		CHECK_INT(portpool_init(&p, 10000, 19999), 0);
		CHECK_INT(portpool_get(&p, &port), 0);
		if (i == 0)
			first0 = port;
		else if (port == first0)
			same_first++;
		portpool_fini(&p);
	}
	CHECK(same_first < 7);
}

int main(void)
{
	test_rounding();
	test_get_put();
	test_random();
	return unit_summary();
}
