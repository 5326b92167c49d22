/* Every query libkmod answers about one module, for each module name read
 * from stdin: creation by name, path and lookups (the name and each alias
 * from its .modinfo), identity of the objects, path, config strings, init
 * state and the /sys numbers, dependencies, softdeps, weakdeps, info,
 * versions, symbols, dependency symbols, filters and a dry-run probe.
 * Usage: modules DIRNAME [CONFIG_PATH...] < names
 * A line starting with "/" is a module file: only what is read from it.
 * With no CONFIG_PATH the config is empty ({NULL}); "-" as the only one
 * passes NULL (the system's directories). Blocks start "== NAME". */
#include "lk.h"

static void print_action(struct kmod_module *m, bool install, const char *options)
{
	printf("  action %s ", install ? "install" : "insmod");
	put_str(kmod_module_get_name(m));
	putchar(' ');
	put_str(options);
	putchar('\n');
}

static int run_install(struct kmod_module *m, const char *cmdline, void *data)
{
	printf("  run_install ");
	put_str(kmod_module_get_name(m));
	putchar(' ');
	put_str(cmdline);
	printf(" %s\n", data ? (const char *)data : "(null)");
	return 0;
}

static void show_info(struct kmod_module *mod)
{
	struct kmod_list *list = NULL, *l;
	int rc = kmod_module_get_info(mod, &list);
	printf("info %d\n", rc);
	kmod_list_foreach(l, list) {
		printf("  ");
		put_str(kmod_module_info_get_key(l));
		putchar('=');
		put_str(kmod_module_info_get_value(l));
		putchar('\n');
	}
	kmod_module_info_free_list(list);
}

static void show_symbols(struct kmod_module *mod)
{
	struct kmod_list *list = NULL, *l;
	int rc = kmod_module_get_versions(mod, &list);
	printf("versions %d\n", rc);
	kmod_list_foreach(l, list) {
		printf("  %016" PRIx64 " ", kmod_module_version_get_crc(l));
		put_str(kmod_module_version_get_symbol(l));
		putchar('\n');
	}
	kmod_module_versions_free_list(list);

	list = NULL;
	rc = kmod_module_get_symbols(mod, &list);
	printf("symbols %d\n", rc);
	kmod_list_foreach(l, list) {
		printf("  %016" PRIx64 " ", kmod_module_symbol_get_crc(l));
		put_str(kmod_module_symbol_get_symbol(l));
		putchar('\n');
	}
	kmod_module_symbols_free_list(list);

	list = NULL;
	rc = kmod_module_get_dependency_symbols(mod, &list);
	printf("depsyms %d\n", rc);
	kmod_list_foreach(l, list) {
		printf("  %016" PRIx64 " %d ", kmod_module_dependency_symbol_get_crc(l),
		       kmod_module_dependency_symbol_get_bind(l));
		put_str(kmod_module_dependency_symbol_get_symbol(l));
		putchar('\n');
	}
	/* dracut reads dependency symbols with the exported-symbol accessor. */
	if (list)
		show("  depsym-as-symbol", kmod_module_symbol_get_symbol(list));
	kmod_module_dependency_symbols_free_list(list);
}

static void show_lookup(struct kmod_ctx *ctx, const char *label, const char *key,
			struct kmod_module *byname)
{
	struct kmod_list *list = NULL, *l;
	int rc = kmod_module_new_from_lookup(ctx, key, &list);
	printf("%s %d ", label, rc);
	put_str(key);
	putchar('\n');
	kmod_list_foreach(l, list) {
		struct kmod_module *m = kmod_module_get_module(l);
		printf("  ");
		put_str(kmod_module_get_name(m));
		printf(" %s path=", ident(m, byname));
		put_str(kmod_module_get_path(m));
		printf(" options=");
		put_str(kmod_module_get_options(m));
		printf(" install=");
		put_str(kmod_module_get_install_commands(m));
		printf(" initstate=%d\n", kmod_module_get_initstate(m));
		kmod_module_unref(m);
	}
	kmod_module_unref_list(list);
}

/* Lookups of every alias the module declares. */
static void show_alias_lookups(struct kmod_ctx *ctx, struct kmod_module *mod)
{
	struct kmod_list *info = NULL, *l;
	if (kmod_module_get_info(mod, &info) < 0)
		return;
	kmod_list_foreach(l, info) {
		if (strcmp(kmod_module_info_get_key(l), "alias") == 0)
			show_lookup(ctx, "alias-lookup", kmod_module_info_get_value(l), mod);
	}
	kmod_module_info_free_list(info);
}

static void show_sys(struct kmod_module *mod)
{
	int state = kmod_module_get_initstate(mod);
	printf("initstate %d ", state);
	put_str(kmod_module_initstate_str(state));
	putchar('\n');
	/* Live values change while the host runs: only their sign is stable. */
	long size = kmod_module_get_size(mod);
	int refcnt = kmod_module_get_refcnt(mod);
	printf("size %ld refcnt %d\n", size < 0 ? size : 1, refcnt < 0 ? refcnt : 1);
	struct kmod_list *holders = kmod_module_get_holders(mod);
	show_modules("holders", holders, false);
	kmod_module_unref_list(holders);
	struct kmod_list *sections = kmod_module_get_sections(mod), *l;
	int n = 0;
	kmod_list_foreach(l, sections) n++;
	printf("sections %d\n", n);
	kmod_module_section_free_list(sections);
}

static void show_deps(struct kmod_module *mod)
{
	struct kmod_list *deps = kmod_module_get_dependencies(mod);
	show_modules("deps", deps, true);
	kmod_module_unref_list(deps);
	deps = kmod_module_get_dependencies(mod);
	show_modules("deps-again", deps, false);
	kmod_module_unref_list(deps);

	struct kmod_list *pre = NULL, *post = NULL;
	int rc = kmod_module_get_softdeps(mod, &pre, &post);
	printf("softdeps %d\n", rc);
	show_modules("  pre", pre, false);
	show_modules("  post", post, false);
	kmod_module_unref_list(pre);
	kmod_module_unref_list(post);

	lk_get_weakdeps_fn get_weakdeps = lk_module_get_weakdeps();
	if (get_weakdeps) {
		struct kmod_list *weak = NULL;
		rc = get_weakdeps(mod, &weak);
		printf("weakdeps %d\n", rc);
		show_modules("weakdeps-list", weak, false);
		kmod_module_unref_list(weak);
	} else {
		printf("weakdeps unsupported\n");
	}
}

/* The module, its dependencies and the lookup of its name, filtered. */
static void show_filters(struct kmod_ctx *ctx, struct kmod_module *mod)
{
	struct kmod_list *input = NULL, *out, *deps = kmod_module_get_dependencies(mod);
	kmod_module_new_from_lookup(ctx, kmod_module_get_name(mod), &input);
	static const unsigned kinds[] = { KMOD_FILTER_BLACKLIST, KMOD_FILTER_BUILTIN,
					  KMOD_FILTER_BLACKLIST | KMOD_FILTER_BUILTIN };
	for (size_t i = 0; i < 3; i++) {
		for (int which = 0; which < 2; which++) {
			char label[64];
			out = NULL;
			int rc = kmod_module_apply_filter(ctx, kinds[i], which ? deps : input, &out);
			snprintf(label, sizeof(label), "filter-%u-%s %d", kinds[i],
				 which ? "deps" : "lookup", rc);
			show_modules(label, out, false);
			kmod_module_unref_list(out);
		}
	}
	out = NULL;
	int rc = kmod_module_get_filtered_blacklist(ctx, input, &out);
	printf("filtered-blacklist %d ", rc);
	show_modules("", out, false);
	kmod_module_unref_list(out);
	kmod_module_unref_list(input);
	kmod_module_unref_list(deps);
}

static void show_probe(struct kmod_module *mod)
{
	static const unsigned flags[] = {
		KMOD_PROBE_DRY_RUN | KMOD_PROBE_IGNORE_LOADED,
		KMOD_PROBE_DRY_RUN | KMOD_PROBE_IGNORE_LOADED | KMOD_PROBE_IGNORE_COMMAND |
			KMOD_PROBE_APPLY_BLACKLIST_ALL,
	};
	for (size_t i = 0; i < 2; i++) {
		printf("probe 0x%x\n", flags[i]);
		int rc = kmod_module_probe_insert_module(mod, flags[i], "extra=1", run_install,
							 "data", print_action);
		printf("  rc %d\n", rc);
	}
}

/* A module file outside the directory (the compressed trees): what is
 * read from the file. */
static void one_file(struct kmod_ctx *ctx, const char *path)
{
	struct kmod_module *mod = NULL;
	printf("== %s\n", path);
	int rc = kmod_module_new_from_path(ctx, path, &mod);
	printf("new_from_path %d\n", rc);
	if (rc < 0)
		return;
	show("name", kmod_module_get_name(mod));
	show("path", kmod_module_get_path(mod));
	printf("initstate %d\n", kmod_module_get_initstate(mod));
	show_info(mod);
	show_symbols(mod);
	kmod_module_unref(mod);
}

static void one_module(struct kmod_ctx *ctx, const char *name)
{
	struct kmod_module *mod = NULL, *again = NULL, *by_path = NULL, *nl = NULL;
	printf("== %s\n", name);
	int rc = kmod_module_new_from_name(ctx, name, &mod);
	printf("new_from_name %d\n", rc);
	if (rc < 0)
		return;
	kmod_module_new_from_name(ctx, name, &again);
	printf("again %s\n", ident(mod, again));
	kmod_module_unref(again);
	printf("ref %s\n", ident(kmod_module_ref(mod), mod));
	kmod_module_unref(mod);
	show("name", kmod_module_get_name(mod));
	show("path", kmod_module_get_path(mod));
	show("options", kmod_module_get_options(mod));
	show("install", kmod_module_get_install_commands(mod));
	show("remove", kmod_module_get_remove_commands(mod));
	rc = lk_name_lookup(ctx, name, &nl);
	printf("name_lookup %d %s\n", rc, nl ? ident(nl, mod) : "(null)");
	kmod_module_unref(nl);
	const char *path = kmod_module_get_path(mod);
	if (path) {
		rc = kmod_module_new_from_path(ctx, path, &by_path);
		printf("new_from_path %d %s\n", rc, by_path ? ident(by_path, mod) : "(null)");
		kmod_module_unref(by_path);
	}
	show_sys(mod);
	show_deps(mod);
	show_info(mod);
	show_symbols(mod);
	show_lookup(ctx, "lookup", name, mod);
	show_alias_lookups(ctx, mod);
	show_filters(ctx, mod);
	show_probe(mod);
	printf("unref %s\n", kmod_module_unref(mod) ? "alive" : "freed");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: modules DIRNAME [CONFIG_PATH...] < names\n");
		return 2;
	}
	const char *none[] = { NULL };
	const char *const *configs = argc > 2 ? (const char *const *)argv + 2 : none;
	if (argc == 3 && strcmp(argv[2], "-") == 0)
		configs = NULL;
	struct kmod_ctx *ctx = kmod_new(argv[1], configs);
	if (!ctx) {
		printf("kmod_new failed\n");
		return 1;
	}
	kmod_set_log_fn(ctx, lk_log, NULL);
	if (getenv("LK_LOAD"))
		printf("load_resources %d\n", kmod_load_resources(ctx));
	char name[4096];
	while (read_line(name, sizeof(name))) {
		if (name[0] == '/')
			one_file(ctx, name);
		else
			one_module(ctx, name);
		fflush(stdout);
	}
	printf("kmod_unref %s\n", kmod_unref(ctx) ? "alive" : "freed");
	return 0;
}
