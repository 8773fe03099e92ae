/* SPDX-License-Identifier: MIT */
/* version.c - which urio is loaded: the library's version at run time. */
#include "config.h"
#include "urio.h"

#define STR_(x) #x
#define STR(x)	STR_(x)

/* meson.build's project version and the header's macros are one number. */
_Static_assert(URIO_VERSION_NUMBER == URIO_PROJECT_VERSION_NUMBER,
	       "include/urio.h and meson.build disagree on the version");

unsigned urio_version(void)
{
	return URIO_VERSION_NUMBER;
}

const char *urio_version_string(void)
{
	return STR(URIO_VERSION_MAJOR) "." STR(URIO_VERSION_MINOR) "." STR(
		URIO_VERSION_PATCH);
}
