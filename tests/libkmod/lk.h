/* Shared helpers of the differential libkmod programs: every value is
 * printed as deterministic text (strings escaped, NULL as "(null)", pointer
 * identity as "same"/"different", never an address), so that one run
 * against kmod's libkmod.so.2 and one against ours can be compared byte for
 * byte. The two functions kmod 30 lacks (LIBKMOD_33) and the one whose
 * version differs are looked up with dlsym, so the programs link against
 * either library. */
#ifndef LK_H
#define LK_H
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libkmod.h>

static inline void put_str(const char *s)
{
	if (s == NULL) {
		fputs("(null)", stdout);
		return;
	}
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			printf("\\x%02x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

/* One labelled line: "label value". */
static inline void show(const char *label, const char *s)
{
	printf("%s ", label);
	put_str(s);
	putchar('\n');
}

static inline const char *ident(const void *a, const void *b)
{
	return a == b ? "same" : "different";
}

/* Kernel and heap addresses in log messages (kmod's INFO lines print the
 * ctx pointer) become "PTR". */
static inline void put_masked(const char *s)
{
	while (*s) {
		if (s[0] == '0' && s[1] == 'x') {
			const char *e = s + 2;
			while ((*e >= '0' && *e <= '9') || (*e >= 'a' && *e <= 'f'))
				e++;
			if (e - s > 6) {
				fputs("PTR", stdout);
				s = e;
				continue;
			}
		}
		if ((unsigned char)*s < 0x20 && *s != '\n')
			printf("\\x%02x", (unsigned char)*s);
		else
			putchar(*s);
		s++;
	}
}

/* The log callback: the message formatted from (format, va_list), as
 * systemd does, on stdout after the priority and function name. */
static inline void lk_log(void *data, int priority, const char *file, int line,
		   const char *fn, const char *format, va_list args)
{
	char buf[4096];
	(void)file;
	(void)line;
	vsnprintf(buf, sizeof(buf), format, args);
	printf("log%s %d %s: ", data ? (const char *)data : "", priority, fn ? fn : "(null)");
	put_masked(buf);
	if (buf[0] == '\0' || buf[strlen(buf) - 1] != '\n')
		putchar('\n');
}

/* Module list: names (and optionally paths), one line each. */
static inline void show_modules(const char *label, struct kmod_list *list, bool paths)
{
	struct kmod_list *l;
	int n = 0;
	kmod_list_foreach(l, list) n++;
	printf("%s %d", label, n);
	kmod_list_foreach(l, list) {
		struct kmod_module *m = kmod_module_get_module(l);
		putchar(' ');
		put_str(kmod_module_get_name(m));
		if (paths) {
			putchar('@');
			put_str(kmod_module_get_path(m));
		}
		kmod_module_unref(m);
	}
	putchar('\n');
}

typedef struct kmod_config_iter *(*lk_config_get_fn)(const struct kmod_ctx *);
typedef int (*lk_get_weakdeps_fn)(const struct kmod_module *, struct kmod_list **);

/* kmod 30 has neither; NULL then. */
static inline lk_config_get_fn lk_config_get_weakdeps(void)
{
	return (lk_config_get_fn)dlsym(RTLD_DEFAULT, "kmod_config_get_weakdeps");
}

static inline lk_get_weakdeps_fn lk_module_get_weakdeps(void)
{
	return (lk_get_weakdeps_fn)dlsym(RTLD_DEFAULT, "kmod_module_get_weakdeps");
}

/* Looked up by name too: kmod 30 defines it at LIBKMOD_5 and 34.2 at
 * LIBKMOD_30, so a direct call binds one library's version only (the ABI
 * test checks that ours also answers programs built against kmod 30). */
typedef int (*lk_name_lookup_fn)(struct kmod_ctx *, const char *, struct kmod_module **);

static inline int lk_name_lookup(struct kmod_ctx *ctx, const char *name, struct kmod_module **mod)
{
	lk_name_lookup_fn f = (lk_name_lookup_fn)dlsym(RTLD_DEFAULT, "kmod_module_new_from_name_lookup");
	return f(ctx, name, mod);
}

/* stdout and the raw write(2) of kmod_dump_index share fd 1. */
static inline void lk_flush(void)
{
	fflush(stdout);
}

/* Reads one line of stdin into buf without the newline; false at EOF. */
static inline bool read_line(char *buf, size_t size)
{
	if (!fgets(buf, (int)size, stdin))
		return false;
	buf[strcspn(buf, "\n")] = '\0';
	return true;
}

#endif
