/* siproxd's registration_file, both ways: read at start so that a gateway
 * moving from siproxd keeps its phones reachable, and written on request
 * (sipmasq --export-registrations=siproxd) so that it can move back.
 *
 * The format, as siproxd 0.8.x reads and writes it: URLMAP_SIZE (512)
 * slots, each a line "****:ACTIVE:EXPIRES" (EXPIRES: wall-clock seconds);
 * an active slot is followed by three lines holding URIs: the UA's true
 * Contact, its masqueraded Contact (the public address, or masked_host),
 * and the registered AOR (the REGISTER's To URI). An empty line stands for
 * a missing URI. siproxd reads at most 127 characters a line. */
#ifndef SIPMASQ_REGISTRATIONS_SIPROXD_H
#define SIPMASQ_REGISTRATIONS_SIPROXD_H

#include <stdio.h>
#include <time.h>

/* Slots in siproxd's file (its URLMAP_SIZE). */
#define SIPROXD_SLOTS 512

/* reg_siproxd_import: add every active, unexpired slot of siproxd's file
 * at path (reg_init said -EPROTO) as a registered binding (reg_restore):
 * contact = the true URL, AOR = the registered URL
 * (scheme:user@host[:port]), source = the Contact's address. A masqueraded
 * URL carrying smqid= (written by reg_siproxd_export) keeps its token.
 * Reading stops at the first line that is not a slot (logged once).
 * Returns the number of bindings added, or -errno (-ENOMEM, fopen's). */
int reg_siproxd_import(const char *path);

/* reg_siproxd_export: atomically replace `path` with the live registered
 * bindings in siproxd's format, padded to SIPROXD_SLOTS slots. The
 * masqueraded URL is sip:USER@public_host[:port];smqid=TOKEN (port left
 * out when it is 5060, as siproxd writes it); siproxd ignores the
 * parameter when it compares URLs, and sipmasq takes its token back.
 * Returns the number of bindings written or -errno (logged); bindings past
 * SIPROXD_SLOTS and URIs siproxd cannot read (over 127 characters) are
 * written all the same and counted in *skipped_by_siproxd. */
int reg_siproxd_export(const char *path, const char *public_host, unsigned short port,
		       unsigned *skipped_by_siproxd);

#endif
