/* The two paths of libkmod that matter at boot, for benches/libkmod.sh:
 *   libkmod-bench load DIRNAME N      N times kmod_new + kmod_load_resources
 *                                     + kmod_unref (udevd's start and reload)
 *   libkmod-bench coldplug DIRNAME < strings
 *                                     one context; for every modalias string:
 *                                     kmod_module_new_from_lookup, then, as
 *                                     systemd's module_load_and_warn does, the
 *                                     init state and a probe of each module
 *                                     (KMOD_PROBE_APPLY_BLACKLIST, plus DRY_RUN
 *                                     here: nothing is loaded)
 * Prints a count, so that both libraries can be seen to do the same work. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libkmod.h>

int main(int argc, char **argv)
{
	const char *none[] = { NULL };
	if (argc == 4 && strcmp(argv[1], "load") == 0) {
		int n = atoi(argv[3]), ok = 0;
		for (int i = 0; i < n; i++) {
			struct kmod_ctx *ctx = kmod_new(argv[2], none);
			ok += kmod_load_resources(ctx) == 0;
			kmod_unref(ctx);
		}
		printf("%d loaded\n", ok);
		return ok == n ? 0 : 1;
	}
	if (argc == 3 && strcmp(argv[1], "coldplug") == 0) {
		struct kmod_ctx *ctx = kmod_new(argv[2], none);
		kmod_load_resources(ctx);
		char line[4096];
		long found = 0, probed = 0;
		while (fgets(line, sizeof(line), stdin)) {
			line[strcspn(line, "\n")] = '\0';
			struct kmod_list *list = NULL, *l;
			if (kmod_module_new_from_lookup(ctx, line, &list) < 0 || list == NULL)
				continue;
			kmod_list_foreach(l, list) {
				struct kmod_module *mod = kmod_module_get_module(l);
				int state = kmod_module_get_initstate(mod);
				found++;
				if (state != KMOD_MODULE_BUILTIN && state != KMOD_MODULE_LIVE)
					probed += kmod_module_probe_insert_module(
							  mod, KMOD_PROBE_APPLY_BLACKLIST | KMOD_PROBE_DRY_RUN,
							  NULL, NULL, NULL, NULL) == 0;
				kmod_module_unref(mod);
			}
			kmod_module_unref_list(list);
		}
		kmod_unref(ctx);
		printf("%ld found, %ld probed\n", found, probed);
		return 0;
	}
	fprintf(stderr, "usage: libkmod-bench load DIRNAME N | coldplug DIRNAME < strings\n");
	return 2;
}
