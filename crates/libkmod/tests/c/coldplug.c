/*
 * What systemd-udevd does with libkmod at boot, for every modalias on
 * standard input: look it up, skip what is built in or loaded, and probe
 * the rest with the blacklist applied (systemd's module_load_and_warn).
 * `-n` probes as a dry run. One line per module:
 *   loaded|would load|present|builtin|blacklisted|failed NAME for ALIAS
 * Used by the VM suite (scenario 17-libkmod) with our library and with
 * kmod's.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <libkmod.h>

int main(int argc, char **argv)
{
	int dry = argc > 1 && strcmp(argv[1], "-n") == 0;
	struct kmod_ctx *ctx = kmod_new(NULL, NULL);
	char alias[4096];

	if (ctx == NULL)
		return 1;
	kmod_load_resources(ctx);
	while (fgets(alias, sizeof(alias), stdin)) {
		struct kmod_list *list = NULL, *l;
		int r;

		alias[strcspn(alias, "\n")] = '\0';
		r = kmod_module_new_from_lookup(ctx, alias, &list);
		if (r < 0) {
			printf("error %s: %s\n", alias, strerror(-r));
			continue;
		}
		kmod_list_foreach(l, list) {
			struct kmod_module *m = kmod_module_get_module(l);
			const char *name = kmod_module_get_name(m);
			int state = kmod_module_get_initstate(m);

			if (state == KMOD_MODULE_BUILTIN) {
				printf("builtin %s for %s\n", name, alias);
			} else if (state == KMOD_MODULE_LIVE) {
				printf("present %s for %s\n", name, alias);
			} else {
				r = kmod_module_probe_insert_module(m,
					KMOD_PROBE_APPLY_BLACKLIST | (dry ? KMOD_PROBE_DRY_RUN : 0),
					NULL, NULL, NULL, NULL);
				if (r == 0)
					printf("%s %s for %s\n", dry ? "would load" : "loaded", name, alias);
				else if (r == KMOD_PROBE_APPLY_BLACKLIST)
					printf("blacklisted %s for %s\n", name, alias);
				else
					printf("failed %s for %s: %s\n", name, alias, strerror(-r));
			}
			kmod_module_unref(m);
		}
		kmod_module_unref_list(list);
	}
	ctx = kmod_unref(ctx);
	return ctx == NULL ? 0 : 1;
}
