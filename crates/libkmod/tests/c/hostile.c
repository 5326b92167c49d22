/*
 * Bad input: names that are not UTF-8 or hold '/', and (prepared by the
 * harness) a truncated modules.alias.bin and a modules.dep.bin whose root
 * points past its end. Every call must return, with libkmod's errors.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <libkmod.h>

static int failures;

#define CHECK(cond, ...) do { \
	if (cond) { printf("ok   "); } else { printf("FAIL "); failures++; } \
	printf(__VA_ARGS__); printf("\n"); \
} while (0)

int main(void)
{
	struct kmod_ctx *ctx = kmod_new(NULL, NULL);
	struct kmod_list *l = NULL;
	struct kmod_module *m = NULL;
	int r;

	kmod_set_log_fn(ctx, NULL, NULL);
	r = kmod_module_new_from_lookup(ctx, "\xff\xfe-x", &l);
	CHECK(r == 0 && l == NULL, "non-UTF-8 alias: nothing found (%d)", r);
	r = kmod_module_new_from_lookup(ctx, "a/b", &l);
	CHECK(r == 0 && l == NULL, "alias with '/': nothing found (%d)", r);
	r = kmod_module_new_from_lookup(ctx, "[unclosed", &l);
	CHECK(r == -EINVAL, "unclosed bracket: -EINVAL (%d)", r);
	r = kmod_module_new_from_name(ctx, "\xff/\xfe", &m);
	CHECK(r == 0 && kmod_module_get_path(m) == NULL && kmod_module_get_initstate(m) < 0,
	      "non-UTF-8 name: an object without a path");
	CHECK(kmod_module_get_info(m, &l) == -ENOENT && l == NULL, "its info: -ENOENT");
	kmod_module_unref(m);
	r = kmod_module_new_from_path(ctx, "", &m);
	CHECK(r < 0, "empty path refused (%d)", r);

	r = kmod_load_resources(ctx);
	CHECK(r == -EINVAL, "truncated modules.alias.bin: load fails with -EINVAL (%d)", r);
	r = kmod_module_new_from_lookup(ctx, "pci:v00008086d0000100Esv1sd2bc02sc00i00", &l);
	CHECK(r == 0 && l == NULL, "lookup through the damaged index finds nothing (%d)", r);
	CHECK(kmod_dump_index(ctx, KMOD_INDEX_MODULES_ALIAS, 1) == -ENOSYS, "dump of the damaged index: -ENOSYS");
	r = kmod_module_new_from_lookup(ctx, "bttv", &l);
	CHECK(r == 0 && l == NULL, "modules.dep.bin with a root past its end: nothing found (%d)", r);
	kmod_module_new_from_name(ctx, "bttv", &m);
	CHECK(kmod_module_get_dependencies(m) == NULL && kmod_module_get_path(m) == NULL,
	      "no dependencies, no path");
	kmod_module_unref(m);
	kmod_unref(ctx);
	printf("%d failed\n", failures);
	return failures ? 1 : 0;
}
