/* Control socket: a local UNIX stream socket where sipmasqctl (or any
 * client) sends one command line and reads one JSON document back:
 *   calls          active calls with their streams, peers, latches, counters
 *   registrations  bindings: AOR, real contact, public token, expiry
 *   stats          engine, counts, free relay ports, kernel reason counters
 *   version
 *   hangup CALL-ID   end the call's media relay (no BYE: no dialog state)
 *   unregister AOR   expire the AOR's registered bindings here
 * Unknown commands get {"error": "..."}. The socket is srw-rw----: its
 * owner and group only (root's, or `user`'s once main.c drops root). */
#ifndef SIPMASQ_CONTROL_H
#define SIPMASQ_CONTROL_H

/* control_open: listen on path (a stale socket file there is replaced).
 * Returns 0 or -errno (logged). An empty path disables the socket. */
int control_open(const char *path);

/* control_tick: once a second: drop clients that sent no command in time. */
void control_tick(void);

/* control_close: stop listening, drop open connections, unlink the file. */
void control_close(void);

#endif
