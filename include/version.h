/*
 * version: the program's version, in one place.
 *
 * The Makefile defines TWAMP_VERSION for src/version.c only: `git describe`
 * of the checkout when it has a tag, else VERSION_BASE plus the commit, else
 * VERSION_BASE alone (a tree without git).  A build without the Makefile
 * gets TWAMP_VERSION_FALLBACK.  Printed by `twamp-client --version` and sent
 * in every twamp_probe record (key "version").
 */
#ifndef VERSION_H
#define VERSION_H

#define TWAMP_VERSION_FALLBACK "0.14.0"

extern const char twamp_version[];

#endif
