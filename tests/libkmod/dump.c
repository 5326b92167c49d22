/* kmod_dump_index for every index of a module directory, read from the
 * files (nothing loaded) and then from the loaded indexes, plus the codes
 * for indexes that do not exist. Output: the dumps themselves on stdout.
 * Usage: dump DIRNAME [loaded|files|both] */
#include "lk.h"

static void dump_all(struct kmod_ctx *ctx, const char *how)
{
	static const unsigned types[] = { KMOD_INDEX_MODULES_DEP, KMOD_INDEX_MODULES_ALIAS,
					  KMOD_INDEX_MODULES_SYMBOL, KMOD_INDEX_MODULES_BUILTIN_ALIAS,
					  KMOD_INDEX_MODULES_BUILTIN, 5, 0x80000000u };
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		printf("== dump %s %u\n", how, types[i]);
		fflush(stdout);
		int rc = kmod_dump_index(ctx, (enum kmod_index)types[i], STDOUT_FILENO);
		printf("== rc %d\n", rc);
	}
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: dump DIRNAME [loaded|files|both]\n");
		return 2;
	}
	const char *mode = argc > 2 ? argv[2] : "both";
	const char *none[] = { NULL };
	struct kmod_ctx *ctx = kmod_new(argv[1], none);
	if (!ctx) {
		printf("kmod_new failed\n");
		return 1;
	}
	kmod_set_log_fn(ctx, lk_log, NULL);
	printf("dump-null %d\n", kmod_dump_index(NULL, KMOD_INDEX_MODULES_DEP, STDOUT_FILENO));
	if (strcmp(mode, "loaded") != 0)
		dump_all(ctx, "files");
	if (strcmp(mode, "files") != 0) {
		printf("load_resources %d\n", kmod_load_resources(ctx));
		dump_all(ctx, "loaded");
	}
	kmod_unref(ctx);
	return 0;
}
