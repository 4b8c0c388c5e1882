/* version: see include/version.h. */
#include "version.h"

#ifndef TWAMP_VERSION
#define TWAMP_VERSION TWAMP_VERSION_FALLBACK
#endif

const char twamp_version[] = TWAMP_VERSION;
