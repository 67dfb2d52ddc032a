/* Scope-bound cleanup helpers (GCC/Clang cleanup attribute), in the style of systemd's macros. */
#pragma once

#include <stdlib.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

/* Hand ownership on: returns the pointer and clears the variable so its cleanup does nothing. */
#define TAKE_PTR(p)                      \
	({                               \
		__typeof__(p) _tp = (p); \
		(p) = NULL;              \
		_tp;                     \
	})

#define DEFINE_CLEANUP_FUNC(type, func)      \
	static inline void func##p(type **p) \
	{                                    \
		if (*p)                      \
			func(*p);            \
	}

static inline void freep(void *p)
{
	free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(freep)

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
