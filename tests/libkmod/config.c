/* The configuration as libkmod exposes it: every config iterator (keys,
 * values, the position rules), then for each name read from stdin its
 * lookup and, per module found, the config strings, softdeps, weakdeps and
 * probes under every flag combination with both callbacks.
 * Usage: config [--exec] DIRNAME CONFIG_PATH... < names
 * Dry runs only, unless --exec: then the probes run for real against a
 * tree whose module files do not exist (inserting fails at open, before
 * any system call), so that run_install is called. */
#include "lk.h"

static void print_action(struct kmod_module *m, bool install, const char *options)
{
	printf("    action %s ", install ? "install" : "insmod");
	put_str(kmod_module_get_name(m));
	putchar(' ');
	put_str(options);
	putchar('\n');
}

static int install_result;

static int run_install(struct kmod_module *m, const char *cmdline, void *data)
{
	printf("    run_install ");
	put_str(kmod_module_get_name(m));
	putchar(' ');
	put_str(cmdline);
	printf(" %s\n", data ? (const char *)data : "(null)");
	return install_result;
}

static void iterate(const char *label, struct kmod_config_iter *it)
{
	/* Every line starts with the label: the weakdeps lines are told apart. */
	printf("%s: key-before-next ", label);
	put_str(kmod_config_iter_get_key(it));
	putchar('\n');
	int n = 0;
	while (kmod_config_iter_next(it)) {
		printf("%s: ", label);
		put_str(kmod_config_iter_get_key(it));
		putchar(' ');
		put_str(kmod_config_iter_get_value(it));
		/* Asked twice: softdep values are rebuilt by each call. */
		putchar(' ');
		put_str(kmod_config_iter_get_value(it));
		putchar('\n');
		n++;
	}
	printf("%s: count %d\n", label, n);
	printf("%s: key-after-end ", label);
	put_str(kmod_config_iter_get_key(it));
	putchar('\n');
	/* After the end the next call starts over. */
	bool again = kmod_config_iter_next(it);
	printf("%s: restart %d ", label, again);
	put_str(again ? kmod_config_iter_get_key(it) : NULL);
	putchar('\n');
	kmod_config_iter_free_iter(it);
}

static void iterators(struct kmod_ctx *ctx)
{
	iterate("blacklists", kmod_config_get_blacklists(ctx));
	iterate("install", kmod_config_get_install_commands(ctx));
	iterate("remove", kmod_config_get_remove_commands(ctx));
	iterate("aliases", kmod_config_get_aliases(ctx));
	iterate("options", kmod_config_get_options(ctx));
	iterate("softdeps", kmod_config_get_softdeps(ctx));
	lk_config_get_fn get_weakdeps = lk_config_get_weakdeps();
	if (get_weakdeps)
		iterate("weakdeps", get_weakdeps(ctx));
	else
		printf("weakdeps: unsupported\n");
}

static const unsigned probe_flags[] = {
	0,
	KMOD_PROBE_IGNORE_LOADED,
	KMOD_PROBE_IGNORE_LOADED | KMOD_PROBE_IGNORE_COMMAND,
	KMOD_PROBE_IGNORE_LOADED | KMOD_PROBE_APPLY_BLACKLIST,
	KMOD_PROBE_IGNORE_LOADED | KMOD_PROBE_APPLY_BLACKLIST_ALL,
	KMOD_PROBE_IGNORE_LOADED | KMOD_PROBE_APPLY_BLACKLIST_ALIAS_ONLY,
	KMOD_PROBE_APPLY_BLACKLIST | KMOD_PROBE_APPLY_BLACKLIST_ALL |
		KMOD_PROBE_APPLY_BLACKLIST_ALIAS_ONLY,
	KMOD_PROBE_FAIL_ON_LOADED | KMOD_PROBE_IGNORE_COMMAND,
};

static void probes(struct kmod_module *m, bool exec)
{
	for (size_t i = 0; i < sizeof(probe_flags) / sizeof(probe_flags[0]); i++) {
		unsigned flags = probe_flags[i] | (exec ? 0 : KMOD_PROBE_DRY_RUN);
		for (int extra = 0; extra < 2; extra++) {
			printf("  probe 0x%x %s\n", flags, extra ? "extra" : "-");
			int rc = kmod_module_probe_insert_module(m, flags, extra ? "x=1  y" : NULL,
								 run_install, "data", print_action);
			printf("    rc %d\n", rc);
		}
	}
	if (exec) {
		/* A positive run_install result is returned when nothing overrides it. */
		install_result = 7;
		int rc = kmod_module_probe_insert_module(m, KMOD_PROBE_IGNORE_LOADED, NULL,
							 run_install, NULL, NULL);
		printf("  probe-install-7 %d\n", rc);
		install_result = -5;
		rc = kmod_module_probe_insert_module(m, KMOD_PROBE_IGNORE_LOADED, NULL,
						     run_install, NULL, NULL);
		printf("  probe-install-neg %d\n", rc);
		install_result = 0;
	}
}

static void one_name(struct kmod_ctx *ctx, const char *name, bool exec)
{
	struct kmod_list *list = NULL, *l;
	int rc = kmod_module_new_from_lookup(ctx, name, &list);
	printf("== %d ", rc);
	put_str(name);
	putchar('\n');
	kmod_list_foreach(l, list) {
		struct kmod_module *m = kmod_module_get_module(l);
		show("  name", kmod_module_get_name(m));
		show("  path", kmod_module_get_path(m));
		show("  options", kmod_module_get_options(m));
		show("  install", kmod_module_get_install_commands(m));
		show("  remove", kmod_module_get_remove_commands(m));
		struct kmod_list *pre = NULL, *post = NULL;
		rc = kmod_module_get_softdeps(m, &pre, &post);
		printf("  softdeps %d\n", rc);
		show_modules("    pre", pre, false);
		show_modules("    post", post, false);
		kmod_module_unref_list(pre);
		kmod_module_unref_list(post);
		lk_get_weakdeps_fn get_weakdeps = lk_module_get_weakdeps();
		if (get_weakdeps) {
			struct kmod_list *weak = NULL;
			rc = get_weakdeps(m, &weak);
			printf("  weakdeps %d\n", rc);
			show_modules("  weakdeps-list", weak, false);
			kmod_module_unref_list(weak);
		} else {
			printf("  weakdeps unsupported\n");
		}
		struct kmod_list *deps = kmod_module_get_dependencies(m);
		show_modules("  deps", deps, false);
		kmod_module_unref_list(deps);
		probes(m, exec);
		kmod_module_unref(m);
	}
	kmod_module_unref_list(list);
	struct kmod_module *nl = NULL;
	rc = lk_name_lookup(ctx, name, &nl);
	printf("  name_lookup %d ", rc);
	put_str(nl ? kmod_module_get_name(nl) : NULL);
	putchar('\n');
	kmod_module_unref(nl);
}

int main(int argc, char **argv)
{
	bool exec = argc > 1 && strcmp(argv[1], "--exec") == 0;
	if (exec) {
		argv++;
		argc--;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: config [--exec] DIRNAME CONFIG_PATH... < names\n");
		return 2;
	}
	const char *none[] = { NULL };
	struct kmod_ctx *ctx = kmod_new(argv[1], argc > 2 ? (const char *const *)argv + 2 : none);
	if (!ctx) {
		printf("kmod_new failed\n");
		return 1;
	}
	kmod_set_log_fn(ctx, lk_log, NULL);
	iterators(ctx);
	char name[4096];
	while (read_line(name, sizeof(name))) {
		one_name(ctx, name, exec);
		fflush(stdout);
	}
	/* Not printed: kmod's modules hold references on their dependencies,
	 * so a dependency cycle (loop_a, loop_b with a softdep between them)
	 * keeps kmod's context alive for ever, while ours is freed. Lifetimes
	 * are compared in check.c; valgrind checks ours for leaks. */
	kmod_unref(ctx);
	return 0;
}
