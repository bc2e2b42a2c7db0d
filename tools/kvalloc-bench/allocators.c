// SPDX-License-Identifier: GPL-2.0
/*
 * The allocator back-ends of kvalloc-bench, all measured in one process.
 *
 * jemalloc and mimalloc are dlopen()ed RTLD_LOCAL|RTLD_NOW and called only
 * through their own non-standard entry points (mallocx/sdallocx,
 * mi_malloc/mi_free/mi_zalloc_aligned), so neither interposes the process
 * malloc.  Debian's jemalloc needs more static TLS than glibc keeps spare
 * for dlopen(); main.c re-executes the program once with a larger
 * glibc.rtld.optional_static_tls tunable when that is the failure.
 *
 * glibc is called through dlsym() on the already-loaded libc.so.6 handle,
 * and dladdr() checks that the functions found really live in libc.so.6,
 * so "glibc" means glibc's ptmalloc even when a sanitizer or an
 * LD_PRELOADed library interposes malloc for the rest of the process.
 *
 * Aligned tests ask for zeroed memory, as test_vmalloc does (__GFP_ZERO):
 * each allocator uses its own zeroing call where it has one; glibc has no
 * aligned calloc, so it gets posix_memalign() + memset().
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "alloc/kvalloc.h"
#include "bench.h"

/* kv: kvmalloc()/kvfree(); aligned tests use the vmap path's aligned call */
static void *kv_b_alloc(size_t size)
{
	return kvmalloc(size, 0);
}

static void kv_b_free(void *p, size_t size)
{
	(void)size;
	kvfree(p);
}

static void *kv_b_alloc_align(size_t size, size_t align)
{
	return kv_vmalloc_align(size, align, KV_ZERO);
}

static void kv_b_free_align(void *p, size_t size, size_t align)
{
	(void)size;
	(void)align;
	kv_vfree(p);
}

/* kv-vmalloc: every size through the explicit vmap path */
static void *kvv_b_alloc(size_t size)
{
	return kv_vmalloc(size, 0);
}

static void kvv_b_free(void *p, size_t size)
{
	(void)size;
	kv_vfree(p);
}

/* glibc */
static void *(*glibc_malloc)(size_t);
static void (*glibc_free)(void *);
static int (*glibc_memalign)(void **, size_t, size_t);

static void *glibc_b_alloc(size_t size)
{
	return glibc_malloc(size);
}

static void glibc_b_free(void *p, size_t size)
{
	(void)size;
	glibc_free(p);
}

static void *glibc_b_alloc_align(size_t size, size_t align)
{
	void *p;

	if (align < sizeof(void *))
		align = sizeof(void *);
	if (glibc_memalign(&p, align, size) != 0)
		return NULL;
	memset(p, 0, size);
	return p;
}

static void glibc_b_free_align(void *p, size_t size, size_t align)
{
	(void)size;
	(void)align;
	glibc_free(p);
}

/*
 * Looks sym up in handle and checks it is defined by the library soname;
 * the first symbol found names the file in a->origin.
 */
static void *lookup(struct kvb_alloc *a, void *handle, const char *soname,
		    const char *sym, char *err, size_t errlen)
{
	void *f = dlsym(handle, sym);
	Dl_info info;

	if (!f) {
		snprintf(err, errlen, "%s: no symbol %s", soname, sym);
		return NULL;
	}
	if (!dladdr(f, &info) || !info.dli_fname ||
	    !strstr(info.dli_fname, soname)) {
		snprintf(err, errlen, "%s resolves to %s, not %s", sym,
			 info.dli_fname ? info.dli_fname : "?", soname);
		return NULL;
	}
	if (!a->origin[0])
		snprintf(a->origin, sizeof(a->origin), "%s() from %s", sym,
			 info.dli_fname);
	return f;
}

static int glibc_b_load(struct kvb_alloc *a, char *err, size_t errlen)
{
	void *h = dlopen(a->soname, RTLD_NOW | RTLD_NOLOAD);

	if (!h) {
		snprintf(err, errlen, "%s is not loaded: %s", a->soname,
			 dlerror());
		return -ENOENT;
	}
	glibc_malloc = lookup(a, h, a->soname, "malloc", err, errlen);
	glibc_free = lookup(a, h, a->soname, "free", err, errlen);
	glibc_memalign = lookup(a, h, a->soname, "posix_memalign", err, errlen);
	/* the handle of an already-loaded library only counts a reference */
	dlclose(h);
	if (!glibc_malloc || !glibc_free || !glibc_memalign)
		return -ENOENT;
	return 0;
}

/* jemalloc: mallocx()/sdallocx(); flag encoding as in jemalloc.h */
#define JE_MALLOCX_LG_ALIGN(la) ((int)(la))
#define JE_MALLOCX_ZERO ((int)0x40)

static void *(*je_mallocx)(size_t, int);
static void (*je_sdallocx)(void *, size_t, int);

static void *je_b_alloc(size_t size)
{
	return je_mallocx(size, 0);
}

static void je_b_free(void *p, size_t size)
{
	je_sdallocx(p, size, 0);
}

static int je_align_flags(size_t align)
{
	return JE_MALLOCX_LG_ALIGN(__builtin_ctzl(align));
}

static void *je_b_alloc_align(size_t size, size_t align)
{
	return je_mallocx(size, je_align_flags(align) | JE_MALLOCX_ZERO);
}

static void je_b_free_align(void *p, size_t size, size_t align)
{
	je_sdallocx(p, size, je_align_flags(align));
}

static int je_b_load(struct kvb_alloc *a, char *err, size_t errlen)
{
	const char *so = a->soname;
	void *h = dlopen(so, RTLD_LOCAL | RTLD_NOW);

	if (!h) {
		snprintf(err, errlen, "%s", dlerror());
		return -ENOENT;
	}
	je_mallocx = lookup(a, h, so, "mallocx", err, errlen);
	je_sdallocx = lookup(a, h, so, "sdallocx", err, errlen);
	/* never dlclose()d: jemalloc keeps thread caches until exit */
	if (!je_mallocx || !je_sdallocx)
		return -ENOENT;
	return 0;
}

/* mimalloc: mi_malloc()/mi_free()/mi_zalloc_aligned() */
static void *(*mi_malloc_p)(size_t);
static void (*mi_free_p)(void *);
static void *(*mi_zalloc_aligned_p)(size_t, size_t);

static void *mi_b_alloc(size_t size)
{
	return mi_malloc_p(size);
}

static void mi_b_free(void *p, size_t size)
{
	(void)size;
	mi_free_p(p);
}

static void *mi_b_alloc_align(size_t size, size_t align)
{
	return mi_zalloc_aligned_p(size, align);
}

static void mi_b_free_align(void *p, size_t size, size_t align)
{
	(void)size;
	(void)align;
	mi_free_p(p);
}

static int mi_b_load(struct kvb_alloc *a, char *err, size_t errlen)
{
	const char *so = a->soname;
	void *h = dlopen(so, RTLD_LOCAL | RTLD_NOW);

	if (!h) {
		snprintf(err, errlen, "%s", dlerror());
		return -ENOENT;
	}
	mi_malloc_p = lookup(a, h, so, "mi_malloc", err, errlen);
	mi_free_p = lookup(a, h, so, "mi_free", err, errlen);
	mi_zalloc_aligned_p =
		lookup(a, h, so, "mi_zalloc_aligned", err, errlen);
	if (!mi_malloc_p || !mi_free_p || !mi_zalloc_aligned_p)
		return -ENOENT;
	return 0;
}

struct kvb_alloc kvb_allocs[] = {
	{
		.name = "kv",
		.desc = "kvmalloc()/kvfree(); aligned: kv_vmalloc_align()",
		.is_kv = true,
		.alloc = kv_b_alloc,
		.free = kv_b_free,
		.alloc_align = kv_b_alloc_align,
		.free_align = kv_b_free_align,
	},
	{
		.name = "kv-vmalloc",
		.desc = "kv_vmalloc()/kv_vfree(): the vmap path only",
		.is_kv = true,
		.alloc = kvv_b_alloc,
		.free = kvv_b_free,
		.alloc_align = kv_b_alloc_align,
		.free_align = kv_b_free_align,
	},
	{
		.name = "glibc",
		.desc = "libc.so.6 malloc()/free()/posix_memalign()",
		.soname = "libc.so.6",
		.load = glibc_b_load,
		.alloc = glibc_b_alloc,
		.free = glibc_b_free,
		.alloc_align = glibc_b_alloc_align,
		.free_align = glibc_b_free_align,
	},
	{
		.name = "jemalloc",
		.desc = "libjemalloc.so.2 mallocx()/sdallocx()",
		.soname = "libjemalloc.so.2",
		.load = je_b_load,
		.alloc = je_b_alloc,
		.free = je_b_free,
		.alloc_align = je_b_alloc_align,
		.free_align = je_b_free_align,
	},
	{
		.name = "mimalloc",
		.desc = "libmimalloc.so.2 mi_malloc()/mi_free()",
		.soname = "libmimalloc.so.2",
		.load = mi_b_load,
		.alloc = mi_b_alloc,
		.free = mi_b_free,
		.alloc_align = mi_b_alloc_align,
		.free_align = mi_b_free_align,
	},
};

const unsigned kvb_nr_allocs = sizeof(kvb_allocs) / sizeof(kvb_allocs[0]);
_Static_assert(sizeof(kvb_allocs) / sizeof(kvb_allocs[0]) <= KVB_MAX_ALLOCS,
	       "raise KVB_MAX_ALLOCS");

struct kvb_alloc *kvb_alloc_find(const char *name)
{
	for (unsigned i = 0; i < kvb_nr_allocs; i++)
		if (!strcmp(kvb_allocs[i].name, name))
			return &kvb_allocs[i];
	return NULL;
}
