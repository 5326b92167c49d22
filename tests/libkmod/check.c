/* The subtle behaviours of libkmod's contract, one labelled line each
 * (kmod 34.2's, see docs/libkmod.md): lists, lookup returns, lifetimes, identity, paths,
 * kmod_new, logging, resources, iterators, /sys, config strings, ELF
 * getters, probe and insert/remove codes that need no kernel.
 * Usage: check BASE FIXTURES
 * BASE: an empty directory prepared by the harness with lib/modules/1.0
 * (the fixture tree); the program writes its config files there and runs
 * with BASE as its working directory. FIXTURES: the built test modules. */
#include "lk.h"
#include <fcntl.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char moddir[PATH_MAX], confdir[PATH_MAX], conffile[PATH_MAX];
static const char *fixtures;

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(1);
	}
	fputs(text, f);
	fclose(f);
}

/* A fixed modification time, so the validate checks never race the clock. */
static void set_mtime(const char *path, time_t sec, long nsec)
{
	struct timespec ts[2] = { { sec, nsec }, { sec, nsec } };
	if (utimensat(AT_FDCWD, path, ts, 0) < 0)
		perror(path);
}

static struct kmod_ctx *ctx_new(const char *dir)
{
	const char *paths[] = { confdir, conffile, NULL };
	struct kmod_ctx *ctx = kmod_new(dir, paths);
	kmod_set_log_fn(ctx, lk_log, NULL);
	return ctx;
}

static void names_of(const char *label, struct kmod_list *list)
{
	show_modules(label, list, false);
}

static void check_lists(struct kmod_ctx *ctx)
{
	struct kmod_list *list = NULL, *l;
	int rc = kmod_module_new_from_lookup(ctx, "multi", &list);
	names_of("lists.multi", list);
	printf("lists.rc %d\n", rc);
	struct kmod_list *last = kmod_list_last(list);
	printf("lists.next-of-last %s\n", kmod_list_next(list, last) ? "set" : "NULL");
	printf("lists.next-null-list %s\n", kmod_list_next(NULL, list) ? "set" : "NULL");
	printf("lists.next-null-curr %s\n", kmod_list_next(list, NULL) ? "set" : "NULL");
	printf("lists.prev-of-head %s\n", kmod_list_prev(list, list) ? "set" : "NULL");
	printf("lists.prev-null %s\n", kmod_list_prev(NULL, list) ? "set" : "NULL");
	printf("lists.last-null %s\n", kmod_list_last(NULL) ? "set" : "NULL");
	printf("lists.reverse");
	kmod_list_foreach_reverse(l, list) {
		struct kmod_module *m = kmod_module_get_module(l);
		printf(" %s", kmod_module_get_name(m));
		kmod_module_unref(m);
	}
	printf("\n");
	printf("lists.unref_list %d\n", kmod_module_unref_list(list));

	list = NULL;
	kmod_module_new_from_lookup(ctx, "mod_a", &list);
	printf("lists.last-single %s\n", ident(kmod_list_last(list), list));
	printf("lists.next-single %s\n", kmod_list_next(list, list) ? "set" : "NULL");
	kmod_module_unref_list(list);

	printf("lists.unref_list-null %d\n", kmod_module_unref_list(NULL));
	printf("lists.kmod_unref-null %s\n", kmod_unref(NULL) ? "set" : "NULL");
	printf("lists.kmod_ref-null %s\n", kmod_ref(NULL) ? "set" : "NULL");
	printf("lists.module_unref-null %s\n", kmod_module_unref(NULL) ? "set" : "NULL");
	printf("lists.module_ref-null %s\n", kmod_module_ref(NULL) ? "set" : "NULL");
	printf("lists.get_module-null %s\n", kmod_module_get_module(NULL) ? "set" : "NULL");
	kmod_module_info_free_list(NULL);
	kmod_module_versions_free_list(NULL);
	kmod_module_symbols_free_list(NULL);
	kmod_module_dependency_symbols_free_list(NULL);
	kmod_module_section_free_list(NULL);
	printf("lists.free-null ok\n");
	/* kmod 30 crashes here; 34.2 accepts NULL (a "k34" line). */
	if (lk_module_get_weakdeps()) {
		kmod_config_iter_free_iter(NULL);
		printf("k34.free_iter-null ok\n");
	}
	printf("lists.iter-next-null %d\n", kmod_config_iter_next(NULL));
	show("lists.iter-key-null", kmod_config_iter_get_key(NULL));
	show("lists.iter-value-null", kmod_config_iter_get_value(NULL));
	show("lists.info-key-null", kmod_module_info_get_key(NULL));
	show("lists.info-value-null", kmod_module_info_get_value(NULL));
	show("lists.version-symbol-null", kmod_module_version_get_symbol(NULL));
	printf("lists.version-crc-null %" PRIu64 "\n", kmod_module_version_get_crc(NULL));
	show("lists.symbol-symbol-null", kmod_module_symbol_get_symbol(NULL));
	printf("lists.symbol-crc-null %" PRIu64 "\n", kmod_module_symbol_get_crc(NULL));
	show("lists.depsym-symbol-null", kmod_module_dependency_symbol_get_symbol(NULL));
	printf("lists.depsym-crc-null %" PRIu64 "\n", kmod_module_dependency_symbol_get_crc(NULL));
	printf("lists.depsym-bind-null %d\n", kmod_module_dependency_symbol_get_bind(NULL));
	show("lists.section-name-null", kmod_module_section_get_name(NULL));
	printf("lists.section-address-null %s\n",
	       kmod_module_section_get_address(NULL) == ULONG_MAX ? "ULONG_MAX" : "other");
}

static void check_lookup_returns(struct kmod_ctx *ctx)
{
	struct kmod_list *list = NULL;
	int rc = kmod_module_new_from_lookup(ctx, "no_such_thing", &list);
	printf("lookup.not-found %d %s\n", rc, list ? "set" : "NULL");
	kmod_module_new_from_lookup(ctx, "mod_a", &list);
	struct kmod_list *keep = list;
	rc = kmod_module_new_from_lookup(ctx, "mod_b", &list);
	printf("lookup.nonempty %d %s\n", rc, ident(list, keep));
	kmod_module_unref_list(keep);
	list = NULL;
	printf("lookup.bad-bracket %d\n", kmod_module_new_from_lookup(ctx, "bad]", &list));
	printf("lookup.open-bracket %d\n", kmod_module_new_from_lookup(ctx, "bad[x", &list));
	printf("lookup.ok-bracket %d\n", kmod_module_new_from_lookup(ctx, "a[-]b", &list));
	kmod_module_unref_list(list);
	list = NULL;
	printf("lookup.null-ctx %d\n", kmod_module_new_from_lookup(NULL, "mod_a", &list));
	printf("lookup.null-alias %d\n", kmod_module_new_from_lookup(ctx, NULL, &list));
	printf("lookup.null-list %d\n", kmod_module_new_from_lookup(ctx, "mod_a", NULL));
	struct kmod_module *sentinel = (struct kmod_module *)&list, *m = sentinel;
	rc = lk_name_lookup(ctx, "no_such_thing", &m);
	printf("lookup.name_lookup-miss %d %s\n", rc, m == sentinel ? "untouched" : "changed");
	printf("lookup.name_lookup-null %d %d %d\n",
	       lk_name_lookup(NULL, "mod_a", &m),
	       lk_name_lookup(ctx, NULL, &m),
	       lk_name_lookup(ctx, "mod_a", NULL));
	m = NULL;
	rc = lk_name_lookup(ctx, "mod-b", &m);
	printf("lookup.name_lookup-hit %d ", rc);
	put_str(m ? kmod_module_get_name(m) : NULL);
	putchar('\n');
	kmod_module_unref(m);
	m = NULL;
	rc = lk_name_lookup(ctx, "builtin_one", &m);
	printf("lookup.name_lookup-builtin %d %s\n", rc, m ? "set" : "NULL");
	kmod_module_unref(m);
	printf("lookup.new_from_name-null %d %d %d\n",
	       kmod_module_new_from_name(NULL, "x", &m), kmod_module_new_from_name(ctx, NULL, &m),
	       kmod_module_new_from_name(ctx, "x", NULL));
	printf("lookup.new_from_path-null %d %d %d\n",
	       kmod_module_new_from_path(NULL, "x", &m), kmod_module_new_from_path(ctx, NULL, &m),
	       kmod_module_new_from_path(ctx, "x", NULL));
	printf("lookup.loaded-null %d %d\n", kmod_module_new_from_loaded(NULL, &list),
	       kmod_module_new_from_loaded(ctx, NULL));
}

static void check_lifetimes(void)
{
	struct kmod_ctx *ctx = ctx_new(moddir);
	struct kmod_module *m = NULL;
	kmod_module_new_from_name(ctx, "mod_c", &m);
	struct kmod_list *deps = kmod_module_get_dependencies(m);
	struct kmod_module *first = kmod_module_get_module(deps);
	printf("life.get_module-ref %s\n", kmod_module_unref(first) ? "alive" : "freed");
	printf("life.ctx-unref-with-modules %s\n", kmod_unref(ctx) ? "alive" : "freed");
	/* The modules still work after the client dropped the context. */
	show("life.path-after-unref", kmod_module_get_path(m));
	kmod_module_unref_list(deps);
	printf("life.last-unref %s\n", kmod_module_unref(m) ? "alive" : "freed");

	ctx = ctx_new(moddir);
	printf("life.ref %s\n", ident(kmod_ref(ctx), ctx));
	printf("life.unref-1 %s\n", kmod_unref(ctx) ? "alive" : "freed");
	printf("life.unref-2 %s\n", kmod_unref(ctx) ? "alive" : "freed");
}

static void check_identity(struct kmod_ctx *ctx)
{
	struct kmod_module *a = NULL, *b = NULL, *p = NULL, *q = NULL;
	kmod_module_new_from_name(ctx, "foo-bar.ko.xz", &a);
	show("identity.normalized", kmod_module_get_name(a));
	kmod_module_new_from_name(ctx, "foo_bar", &b);
	printf("identity.recreate %s\n", ident(a, b));
	kmod_module_unref(b);
	kmod_module_unref(a);
	a = NULL;
	kmod_module_new_from_name(ctx, "", &a);
	show("identity.empty", a ? kmod_module_get_name(a) : NULL);
	kmod_module_unref(a);
	a = NULL;
	kmod_module_new_from_name(ctx, "Mixed-Case.x-y", &a);
	show("identity.case", kmod_module_get_name(a));
	kmod_module_unref(a);

	struct kmod_list *list = NULL, *l;
	kmod_module_new_from_name(ctx, "mod_a", &a);
	kmod_module_new_from_lookup(ctx, "multi", &list);
	kmod_list_foreach(l, list) {
		struct kmod_module *m = kmod_module_get_module(l);
		printf("identity.alias-made %s %s options=", kmod_module_get_name(m), ident(m, a));
		put_str(kmod_module_get_options(m));
		putchar('\n');
		kmod_module_unref(m);
	}
	kmod_module_unref_list(list);
	list = NULL;
	kmod_module_new_from_lookup(ctx, "dupx", &list);
	names_of("identity.two-patterns", list);
	if (list && kmod_list_next(list, list))
		printf("identity.two-patterns-objects %s\n",
		       ident(list, kmod_list_next(list, list)) /* nodes differ */);
	kmod_module_unref_list(list);

	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/kernel/drivers/mod_a.ko", moddir);
	int rc = kmod_module_new_from_path(ctx, path, &p);
	printf("identity.path-same %d %s\n", rc, p ? ident(p, a) : "(null)");
	kmod_module_unref(p);
	snprintf(path, sizeof(path), "%s/mod_a.ko", fixtures);
	q = NULL;
	rc = kmod_module_new_from_path(ctx, path, &q);
	printf("identity.path-other %d %s\n", rc, q ? "set" : "NULL");
	kmod_module_unref(a);
	q = NULL;
	rc = kmod_module_new_from_path(ctx, "/nonexistent/dir/x.ko", &q);
	printf("identity.path-missing %d %s\n", rc, q ? "set" : "NULL");
	rc = kmod_module_new_from_path(ctx, "/", &q);
	printf("identity.path-root %d\n", rc);
	/* A directory passes stat(). */
	q = NULL;
	rc = kmod_module_new_from_path(ctx, "lib", &q);
	printf("identity.path-dir %d ", rc);
	put_str(q ? kmod_module_get_name(q) : NULL);
	putchar(' ');
	put_str(q ? kmod_module_get_path(q) : NULL);
	putchar('\n');
	kmod_module_unref(q);
	/* A path-made object wins over modules.dep while it lives. */
	q = NULL;
	rc = kmod_module_new_from_path(ctx, path, &q);
	kmod_module_new_from_name(ctx, "mod_a", &a);
	printf("identity.path-then-name %d %s ", rc, ident(q, a));
	put_str(kmod_module_get_path(a));
	printf(" initstate=%d\n", kmod_module_get_initstate(a));
	kmod_module_unref(a);
	kmod_module_unref(q);
}

static void check_paths(void)
{
	char slash[PATH_MAX];
	snprintf(slash, sizeof(slash), "%s/", moddir);
	struct kmod_ctx *ctx = ctx_new(slash);
	show("paths.dirname-slash", kmod_get_dirname(ctx));
	struct kmod_module *m = NULL;
	kmod_module_new_from_name(ctx, "mod_c", &m);
	show("paths.path-slash", kmod_module_get_path(m));
	struct kmod_list *d = kmod_module_get_dependencies(m);
	show_modules("paths.deps", d, true);
	kmod_module_unref_list(d);
	d = kmod_module_get_dependencies(m);
	show_modules("paths.deps-again", d, false);
	kmod_module_unref_list(d);
	kmod_module_unref(m);
	struct kmod_list *list = NULL;
	kmod_module_new_from_lookup(ctx, "builtin_one", &list);
	if (list) {
		m = kmod_module_get_module(list);
		show("paths.builtin", kmod_module_get_path(m));
		printf("paths.builtin-initstate %d\n", kmod_module_get_initstate(m));
		kmod_module_unref(m);
	}
	kmod_module_unref_list(list);
	kmod_unref(ctx);
}

static void check_new(void)
{
	static const char *dirs[] = { "relative/dir", "", "/abs/dir/", NULL };
	const char *none[] = { NULL };
	for (size_t i = 0; i < 4; i++) {
		struct kmod_ctx *ctx = kmod_new(dirs[i], none);
		const char *d = kmod_get_dirname(ctx);
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof(cwd)))
			cwd[0] = '\0';
		/* The working directory is the harness's temporary one. */
		if (d && strncmp(d, cwd, strlen(cwd)) == 0)
			printf("new.dirname %zu CWD%s\n", i, d + strlen(cwd));
		else if (dirs[i] == NULL)
			printf("new.dirname-null %s\n", d && strncmp(d, "/lib/modules/", 13) == 0 ? "/lib/modules/..." : "other");
		else
			show("new.dirname", d);
		kmod_unref(ctx);
	}
	if (lk_module_get_weakdeps()) /* kmod 30 crashes */
		show("k34.dirname-null-ctx", kmod_get_dirname(NULL));
	/* kmod_new logs before a client can set its logger, and at INFO it
	 * prints the ctx address: stderr is silenced for these. */
	fflush(stderr);
	int saved = dup(STDERR_FILENO), devnull = open("/dev/null", O_WRONLY);
	dup2(devnull, STDERR_FILENO);
	static const char *levels[] = { NULL, "info", "7", "bogus", "debug", "err", "5 ", "4x", "error", "infox" };
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		if (levels[i])
			setenv("KMOD_LOG", levels[i], 1);
		else
			unsetenv("KMOD_LOG");
		struct kmod_ctx *ctx = kmod_new(moddir, none);
		printf("new.KMOD_LOG %s %d\n", levels[i] ? levels[i] : "(unset)", kmod_get_log_priority(ctx));
		kmod_unref(ctx);
	}
	unsetenv("KMOD_LOG");
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(devnull);
	printf("new.priority-null %d\n", kmod_get_log_priority(NULL));
	kmod_set_log_priority(NULL, 7);
	struct kmod_ctx *ctx = kmod_new(moddir, none);
	kmod_set_log_priority(ctx, 12345);
	printf("new.priority-any %d\n", kmod_get_log_priority(ctx));
	kmod_set_log_priority(ctx, 3);
	int token;
	printf("new.userdata-default %s\n", kmod_get_userdata(ctx) ? "set" : "NULL");
	kmod_set_userdata(ctx, &token);
	printf("new.userdata %s\n", ident(kmod_get_userdata(ctx), &token));
	printf("new.userdata-null %s\n", kmod_get_userdata(NULL) ? "set" : "NULL");
	kmod_set_userdata(NULL, &token);
	/* {NULL} config still reads modules.softdep. */
	struct kmod_module *m = NULL;
	kmod_module_new_from_name(ctx, "mod_c", &m);
	struct kmod_list *pre = NULL, *post = NULL;
	kmod_module_get_softdeps(m, &pre, &post);
	names_of("new.no-config-softdep-pre", pre);
	names_of("new.no-config-softdep-post", post);
	kmod_module_unref_list(pre);
	kmod_module_unref_list(post);
	kmod_module_unref(m);
	kmod_unref(ctx);
}

static void check_logging(void)
{
	const char *none[] = { NULL };
	struct kmod_ctx *ctx = kmod_new(moddir, none);
	struct kmod_list *list = (struct kmod_list *)&ctx;
	/* Default logger: stderr. */
	fflush(stdout);
	kmod_module_new_from_lookup(ctx, "x", &list);
	fflush(stderr);
	kmod_set_log_fn(ctx, lk_log, "-custom");
	kmod_module_new_from_lookup(ctx, "x", &list);
	kmod_set_log_priority(ctx, 6);
	kmod_set_log_fn(ctx, lk_log, "-info");
	kmod_module_new_from_lookup(ctx, "x", &list);
	kmod_set_log_priority(ctx, 2);
	kmod_module_new_from_lookup(ctx, "x", &list);
	printf("logging.below-priority done\n");
	kmod_set_log_priority(ctx, 7);
	kmod_set_log_fn(ctx, NULL, NULL);
	kmod_module_new_from_lookup(ctx, "x", &list);
	printf("logging.null-fn done\n");
	kmod_set_log_fn(NULL, lk_log, NULL);
	kmod_unref(ctx);
	/* Config parse errors are logged inside kmod_new: stderr. */
	char bad[PATH_MAX];
	snprintf(bad, sizeof(bad), "%s/bad.conf", confdir);
	write_file(bad, "bogus directive\noptions\n");
	const char *paths[] = { bad, NULL };
	fflush(stdout);
	ctx = kmod_new(moddir, paths);
	fflush(stderr);
	kmod_unref(ctx);
	unlink(bad);
}

static void check_resources(void)
{
	char base[PATH_MAX], path[PATH_MAX + 64], cmd[PATH_MAX * 2];
	snprintf(base, sizeof(base), "%s/res", moddir);
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s' && cp '%s'/modules.*.bin '%s'/", base, moddir, base);
	if (system(cmd) != 0)
		exit(1);
	static const char *victims[] = { "modules.builtin.alias.bin", "modules.alias.bin",
					 "modules.dep.bin", "modules.symbols.bin",
					 "modules.builtin.bin" };
	static const char *damage[] = { "missing", "short", "magic", "version" };
	for (size_t v = 0; v < 5; v++) {
		for (size_t k = 0; k < 4; k++) {
			snprintf(cmd, sizeof(cmd), "rm -rf '%s'/* && cp '%s'/modules.*.bin '%s'/", base, moddir, base);
			if (system(cmd) != 0)
				exit(1);
			snprintf(path, sizeof(path), "%s/%s", base, victims[v]);
			if (k == 0) {
				unlink(path);
			} else {
				FILE *f = fopen(path, "r+b");
				static const unsigned char bytes[][12] = {
					{ 0xb0, 0x07, 0xf4, 0x57, 0, 2 },
					{ 0xb0, 0x07, 0xf4, 0x58, 0, 2, 0, 1 },
					{ 0xb0, 0x07, 0xf4, 0x57, 0, 3, 0, 1 },
				};
				fwrite(bytes[k - 1], 1, 12, f);
				fclose(f);
				if (k == 1)
					truncate(path, 6);
			}
			struct kmod_ctx *ctx = ctx_new(base);
			int rc = kmod_load_resources(ctx);
			printf("resources.load %s %s %d validate=%d\n", victims[v], damage[k], rc,
			       kmod_validate_resources(ctx));
			struct kmod_list *list = NULL;
			rc = kmod_module_new_from_lookup(ctx, "pci:v00008086d00001234", &list);
			printf("resources.lookup-after %d ", rc);
			names_of("", list);
			kmod_module_unref_list(list);
			list = NULL;
			rc = kmod_module_new_from_lookup(ctx, "mod_c", &list);
			printf("resources.lookup-name %d ", rc);
			names_of("", list);
			kmod_module_unref_list(list);
			kmod_unref(ctx);
		}
	}
	printf("resources.load-null %d\n", kmod_load_resources(NULL));
	kmod_unload_resources(NULL);
	printf("resources.validate-null %d\n", kmod_validate_resources(NULL));

	/* The validate matrix, with fixed mtimes. */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'/* && cp '%s'/modules.*.bin '%s'/", base, moddir, base);
	if (system(cmd) != 0)
		exit(1);
	char vdir[PATH_MAX], vfile[PATH_MAX], vconf[PATH_MAX + 16];
	snprintf(vdir, sizeof(vdir), "%s/vdir", confdir);
	snprintf(vfile, sizeof(vfile), "%s/vsingle.conf", confdir);
	mkdir(vdir, 0755);
	snprintf(vconf, sizeof(vconf), "%s/a.conf", vdir);
	write_file(vconf, "options mod_a x=1\n");
	write_file(vfile, "options mod_b y=1\n");
	set_mtime(vdir, 1000000000, 0);
	set_mtime(vfile, 1000000000, 0);
	const char *paths[] = { vdir, vfile, "/nonexistent-config-path", NULL };
	struct kmod_ctx *ctx = kmod_new(base, paths);
	kmod_set_log_fn(ctx, lk_log, NULL);
	printf("validate.fresh-unloaded %d\n", kmod_validate_resources(ctx));
	kmod_load_resources(ctx);
	printf("validate.fresh-loaded %d\n", kmod_validate_resources(ctx));
	printf("validate.reload %d\n", kmod_load_resources(ctx));
	write_file(vconf, "options mod_a x=2\n");
	set_mtime(vdir, 1000000000, 0);
	printf("validate.edit-in-dir %d\n", kmod_validate_resources(ctx));
	snprintf(path, sizeof(path), "%s/modules.alias.bin", base);
	set_mtime(path, 1000000001, 0);
	printf("validate.index-touched %d\n", kmod_validate_resources(ctx));
	kmod_unload_resources(ctx);
	printf("validate.after-unload %d\n", kmod_validate_resources(ctx));
	kmod_load_resources(ctx);
	set_mtime(path, 1000000001, 1000);
	printf("validate.index-usec %d\n", kmod_validate_resources(ctx));
	kmod_unload_resources(ctx);
	kmod_load_resources(ctx);
	set_mtime(vfile, 1000000000, 5000);
	printf("validate.single-file-touched %d\n", kmod_validate_resources(ctx));
	set_mtime(vfile, 1000000000, 0);
	printf("validate.single-file-restored %d\n", kmod_validate_resources(ctx));
	snprintf(vconf, sizeof(vconf), "%s/b.conf", vdir);
	write_file(vconf, "\n");
	printf("validate.file-added %d\n", kmod_validate_resources(ctx));
	kmod_unref(ctx);
}

static void check_sys(struct kmod_ctx *ctx)
{
	for (int s = -1; s < 6; s++) {
		printf("sys.initstate_str %d ", s);
		put_str(kmod_module_initstate_str((enum kmod_module_initstate)s));
		putchar('\n');
	}
	show("sys.initstate_str-pad",
	     kmod_module_initstate_str((enum kmod_module_initstate)0x80000000u));
	struct kmod_module *m = NULL;
	kmod_module_new_from_name(ctx, "modutils_never_loaded", &m);
	printf("sys.absent initstate=%d size=%ld refcnt=%d holders=%s sections=%s\n",
	       kmod_module_get_initstate(m), kmod_module_get_size(m), kmod_module_get_refcnt(m),
	       kmod_module_get_holders(m) ? "set" : "NULL",
	       kmod_module_get_sections(m) ? "set" : "NULL");
	kmod_module_unref(m);
	printf("sys.null initstate=%d size=%ld refcnt=%d holders=%s sections=%s\n",
	       kmod_module_get_initstate(NULL), kmod_module_get_size(NULL),
	       kmod_module_get_refcnt(NULL), kmod_module_get_holders(NULL) ? "set" : "NULL",
	       kmod_module_get_sections(NULL) ? "set" : "NULL");
	/* The host's /sys/module: a directory without initstate (a built-in
	 * with parameters) reads as COMING unless modules.builtin knows it. */
	DIR *d = opendir("/sys/module");
	struct dirent *e;
	char found[256] = "";
	while (d && (e = readdir(d))) {
		char p[PATH_MAX];
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/sys/module/%s/initstate", e->d_name);
		if (access(p, F_OK) != 0 && (found[0] == '\0' || strcmp(e->d_name, found) < 0))
			snprintf(found, sizeof(found), "%s", e->d_name);
	}
	if (d)
		closedir(d);
	if (found[0]) {
		m = NULL;
		kmod_module_new_from_name(ctx, found, &m);
		printf("sys.dir-without-initstate %d\n", kmod_module_get_initstate(m));
		printf("sys.dir-without-initstate-probe %d\n",
		       kmod_module_probe_insert_module(m, KMOD_PROBE_DRY_RUN | KMOD_PROBE_FAIL_ON_LOADED,
						       NULL, NULL, NULL, NULL));
		kmod_module_unref(m);
	} else {
		printf("sys.dir-without-initstate none\n");
	}
}

static void check_config_strings(struct kmod_ctx *ctx)
{
	static const char *names[] = { "mod_a", "mod_b", "mod_c", "multi", "pat_x1", "soft", "w_one", "dupx" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct kmod_list *list = NULL, *l;
		kmod_module_new_from_lookup(ctx, names[i], &list);
		kmod_list_foreach(l, list) {
			struct kmod_module *m = kmod_module_get_module(l);
			printf("config.%s %s options=", names[i], kmod_module_get_name(m));
			put_str(kmod_module_get_options(m));
			printf(" install=");
			put_str(kmod_module_get_install_commands(m));
			printf(" remove=");
			put_str(kmod_module_get_remove_commands(m));
			putchar('\n');
			kmod_module_unref(m);
		}
		kmod_module_unref_list(list);
	}
	struct kmod_config_iter *it = kmod_config_get_softdeps(ctx);
	while (kmod_config_iter_next(it)) {
		printf("config.softdep ");
		put_str(kmod_config_iter_get_key(it));
		putchar(' ');
		put_str(kmod_config_iter_get_value(it));
		putchar('\n');
	}
	kmod_config_iter_free_iter(it);
	lk_config_get_fn get_weakdeps = lk_config_get_weakdeps();
	if (get_weakdeps) {
		it = get_weakdeps(ctx);
		while (kmod_config_iter_next(it)) {
			printf("weakdep-iter ");
			put_str(kmod_config_iter_get_key(it));
			putchar(' ');
			put_str(kmod_config_iter_get_value(it));
			putchar('\n');
		}
		kmod_config_iter_free_iter(it);
		lk_get_weakdeps_fn get_module_weakdeps = lk_module_get_weakdeps();
		static const char *weak_names[] = { "w-one", "w_two", "mod_weakdep" };
		for (size_t i = 0; i < 3; i++) {
			struct kmod_module *m = NULL;
			struct kmod_list *weak = NULL;
			kmod_module_new_from_name(ctx, weak_names[i], &m);
			int rc = get_module_weakdeps(m, &weak);
			printf("weakdeps-module %s %d ", weak_names[i], rc);
			show_modules("", weak, false);
			kmod_module_unref_list(weak);
			kmod_module_unref(m);
		}
		printf("weakdeps-null %d\n", get_module_weakdeps(NULL, NULL));
	}
	printf("config.get-null %s\n",
	       kmod_config_get_blacklists(NULL) || kmod_config_get_install_commands(NULL) ||
			       kmod_config_get_remove_commands(NULL) || kmod_config_get_aliases(NULL) ||
			       kmod_config_get_options(NULL) || kmod_config_get_softdeps(NULL) ||
			       (get_weakdeps && get_weakdeps(NULL)) ?
		       "set" :
		       "NULL");
}

static void show_elf(struct kmod_module *m, const char *label)
{
	struct kmod_list *list = NULL;
	int info = kmod_module_get_info(m, &list);
	kmod_module_info_free_list(list);
	list = NULL;
	int versions = kmod_module_get_versions(m, &list);
	kmod_module_versions_free_list(list);
	list = NULL;
	int symbols = kmod_module_get_symbols(m, &list);
	kmod_module_symbols_free_list(list);
	list = NULL;
	int depsyms = kmod_module_get_dependency_symbols(m, &list);
	kmod_module_dependency_symbols_free_list(list);
	printf("elf.%s info=%d versions=%d symbols=%d depsyms=%d\n", label, info, versions,
	       symbols, depsyms);
}

static void check_elf(struct kmod_ctx *ctx)
{
	static const char *files[] = { "mod_a.ko", "mod_b.ko", "mod_c.ko", "mod_alias.ko",
				       "mod_param.ko", "mod_softdep.ko", "mod_weakdep.ko",
				       "mod-dash.ko", "noinfo.o", "tiny.ko", "text.ko",
				       "empty.ko", "badelf.ko", "trunc.ko" };
	char path[PATH_MAX];
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct kmod_module *m = NULL;
		if (i < 8)
			snprintf(path, sizeof(path), "%s/%s", fixtures, files[i]);
		else
			snprintf(path, sizeof(path), "elf/%s", files[i]);
		int rc = kmod_module_new_from_path(ctx, path, &m);
		if (rc < 0) {
			printf("elf.%s new_from_path %d\n", files[i], rc);
			continue;
		}
		show_elf(m, files[i]);
		struct kmod_list *list = NULL, *l;
		kmod_module_get_dependency_symbols(m, &list);
		int weak = 0, undef = 0;
		kmod_list_foreach(l, list) {
			int b = kmod_module_dependency_symbol_get_bind(l);
			weak += b == KMOD_SYMBOL_WEAK;
			undef += b == KMOD_SYMBOL_UNDEF;
		}
		printf("elf.%s binds U=%d W=%d\n", files[i], undef, weak);
		kmod_module_dependency_symbols_free_list(list);
		kmod_module_unref(m);
	}
	/* Builtins: info from modules.builtin.modinfo; no file for the rest. */
	struct kmod_list *list = NULL;
	kmod_module_new_from_lookup(ctx, "builtin_one", &list);
	if (list) {
		struct kmod_module *m = kmod_module_get_module(list);
		show_elf(m, "builtin");
		kmod_module_unref(m);
	}
	kmod_module_unref_list(list);
	struct kmod_module *m = NULL;
	kmod_module_new_from_name(ctx, "modutils_nowhere", &m);
	show_elf(m, "nowhere");
	list = (struct kmod_list *)&m;
	printf("elf.null %d %d %d %d %d\n", kmod_module_get_info(NULL, &list),
	       kmod_module_get_info(m, NULL), kmod_module_get_versions(NULL, &list),
	       kmod_module_get_symbols(NULL, &list), kmod_module_get_dependency_symbols(NULL, &list));
	kmod_module_unref(m);
}

static int install_rc;

static int run_install(struct kmod_module *m, const char *cmdline, void *data)
{
	printf("probe.run_install %s ", kmod_module_get_name(m));
	put_str(cmdline);
	printf(" %s\n", data ? (const char *)data : "(null)");
	return install_rc;
}

static void print_action(struct kmod_module *m, bool install, const char *options)
{
	printf("probe.action %s %s ", install ? "install" : "insmod", kmod_module_get_name(m));
	put_str(options);
	putchar('\n');
}

static void check_probe(struct kmod_ctx *ctx)
{
	struct kmod_module *m = NULL;
	printf("probe.null %d\n",
	       kmod_module_probe_insert_module(NULL, 0, NULL, NULL, NULL, NULL));
	kmod_module_new_from_name(ctx, "soft", &m);
	printf("probe.softdeps rc=%d\n",
	       kmod_module_probe_insert_module(m, KMOD_PROBE_DRY_RUN | KMOD_PROBE_IGNORE_LOADED,
					       "extra=1", run_install, "d", print_action));
	kmod_module_unref(m);
	/* The system() path: MODPROBE_MODULE set, exit status mapped. */
	static const char *names[] = { "sys_ok", "sys_fail", "sys_signal", "cmd_opts" };
	for (size_t i = 0; i < 4; i++) {
		m = NULL;
		kmod_module_new_from_name(ctx, names[i], &m);
		fflush(stdout);
		int rc = kmod_module_probe_insert_module(m, KMOD_PROBE_IGNORE_LOADED, "o=1", NULL,
							 NULL, print_action);
		fflush(stdout);
		printf("probe.system %s %d env=%s\n", names[i], rc,
		       getenv("MODPROBE_MODULE") ? "left" : "unset");
		kmod_module_unref(m);
	}
	FILE *f = fopen("system.out", "r");
	char line[512];
	while (f && fgets(line, sizeof(line), f))
		printf("probe.system-out %s", line);
	if (f)
		fclose(f);
	/* run_install with $CMDLINE_OPTS and its results. */
	int results[] = { 0, 3, -5 };
	for (size_t i = 0; i < 3; i++) {
		install_rc = results[i];
		m = NULL;
		kmod_module_new_from_name(ctx, "cmd_opts", &m);
		int rc = kmod_module_probe_insert_module(m, KMOD_PROBE_IGNORE_LOADED, "o=1 p=2",
							 run_install, "data", NULL);
		printf("probe.run_install-rc %d -> %d\n", results[i], rc);
		kmod_module_unref(m);
	}
	install_rc = 0;
	/* insert/remove without a kernel. */
	m = NULL;
	kmod_module_new_from_name(ctx, "modutils_nowhere", &m);
	printf("insert.no-path %d\n", kmod_module_insert_module(m, 0, NULL));
	printf("insert.null %d remove.null %d\n", kmod_module_insert_module(NULL, 0, NULL),
	       kmod_module_remove_module(NULL, 0));
	printf("remove.not-loaded %d\n", kmod_module_remove_module(m, 0));
	printf("remove.not-loaded-nolog %d\n", kmod_module_remove_module(m, KMOD_REMOVE_NOLOG));
	kmod_module_unref(m);
	m = NULL;
	kmod_module_new_from_name(ctx, "modutils_nowhere", &m);
	printf("probe.nowhere %d\n",
	       kmod_module_probe_insert_module(m, KMOD_PROBE_IGNORE_LOADED, NULL, run_install, NULL, print_action));
	kmod_module_unref(m);
}

static const char config_text[] =
	"alias multi mod_a\n"
	"alias multi mod_c\n"
	"alias multi pps_core\n"
	"alias dup* mod_a\n"
	"alias du* mod_a\n"
	"options multi opt=multi\n"
	"options mod_a a=1\n"
	"options mod_a\tb=2\n"
	"options mod_a \n"
	"options mod-b  spaced   out \n"
	"install pat_* /bin/true first\n"
	"install pat_x1 /bin/true second\n"
	"install mod_c  /bin/echo two-spaces\n"
	"remove mod_a /bin/true rm $CMDLINE_OPTS\n"
	"softdep soft pre: mod-b pps_core post: mod_c ptp\n"
	"softdep mod_a pre: a-b c post: d e-f\n"
	"install soft /bin/false never\n"
	"options soft s=1\n"
	"options pps_core pps=1\n"
	"install mod_c /bin/true later\n"
	"install sys_ok echo \"$MODPROBE_MODULE ok $CMDLINE_OPTS\" >> system.out\n"
	"install sys_fail echo \"$MODPROBE_MODULE fail\" >> system.out; exit 3\n"
	"install sys_signal kill -TERM $$\n"
	"install cmd_opts true $CMDLINE_OPTS and $CMDLINE_OPTS\n"
	"blacklist mod_c\n"
	"weakdep w-one  z1 z-2 mod-b\n"
	/* Only blanks after the name: an empty list (kmod 34.2 rejects a
	 * line that ends at the name's delimiter). */
	"weakdep w-two  \n";

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: check BASE FIXTURES\n");
		return 2;
	}
	if (chdir(argv[1]) < 0) {
		perror(argv[1]);
		return 1;
	}
	fixtures = argv[2];
	if (!getcwd(moddir, sizeof(moddir) - 32))
		return 1;
	snprintf(confdir, sizeof(confdir), "%s/conf", moddir);
	snprintf(conffile, sizeof(conffile), "%s/single.conf", moddir);
	strcat(moddir, "/lib/modules/1.0");
	mkdir(confdir, 0755);
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/main.conf", confdir);
	write_file(path, config_text);
	write_file(conffile, "options mod_a from=single\n");

	struct kmod_ctx *ctx = ctx_new(moddir);
	check_lists(ctx);
	check_lookup_returns(ctx);
	check_lifetimes();
	check_identity(ctx);
	check_paths();
	check_new();
	check_logging();
	check_resources();
	check_sys(ctx);
	check_config_strings(ctx);
	check_elf(ctx);
	check_probe(ctx);
	printf("end %s\n", kmod_unref(ctx) ? "alive" : "freed");
	return 0;
}
