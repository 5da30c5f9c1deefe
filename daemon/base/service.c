/* sd_notify readiness (service.h). */
#include "autoconfig.h"

#include <stdio.h>
#include <string.h>

#include "daemon/base/log.h"
#include "daemon/base/service.h"

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>

void service_ready(const char *status)
{
	int rc = sd_notifyf(0, "READY=1\nSTATUS=%s", status);

	if (rc < 0)
		log_warn("sd_notify READY: %s", strerror(-rc));
}

void service_stopping(void)
{
	sd_notify(0, "STOPPING=1");
}

#else

void service_ready(const char *status)
{
	(void)status;
}

void service_stopping(void)
{
}

#endif
