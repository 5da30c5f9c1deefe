/* Readiness for the service manager: sd_notify(3) when built with
 * libsystemd (configure --with-systemd) and started by systemd with
 * Type=notify (NOTIFY_SOCKET set); a no-op otherwise. */
#ifndef SIPMASQ_SERVICE_H
#define SIPMASQ_SERVICE_H

/* service_ready: sipmasq is serving (sockets bound, engine attached, root
 * dropped); status is a one-line text for `systemctl status`. */
void service_ready(const char *status);

/* service_stopping: the stop has begun (SIGTERM or a SIGUSR2 handover). */
void service_stopping(void);

#endif
