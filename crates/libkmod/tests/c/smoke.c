/*
 * The library's own smoke test: the contract facts of docs/libkmod.md on
 * the small system tests/c_abi.rs writes (MODUTILS_SYSROOT, fake kernel).
 * Prints one line per check; exits 1 if any failed. Run under valgrind by
 * the harness, so every path here must also be leak- and error-free.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <syslog.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <libkmod.h>

static int failures;

#define CHECK(cond, ...) do { \
	if (cond) { printf("ok   "); } else { printf("FAIL "); failures++; } \
	printf(__VA_ARGS__); printf("\n"); \
} while (0)

static const char *s(const char *p) { return p ? p : "(null)"; }

/* ---- logging --------------------------------------------------------- */

static char logged[8192];
static int log_calls;

static void log_fn(void *data, int priority, const char *file, int line,
		   const char *fn, const char *format, va_list args)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), format, args);
	log_calls++;
	snprintf(logged + strlen(logged), sizeof(logged) - strlen(logged),
		 "[%s|%d|%s|%s|%d]%s", (const char *)data, priority, fn,
		 file ? "file" : "nofile", line > 0, msg);
}

/* ---- probe callbacks ------------------------------------------------- */

static char actions[4096];

static void print_action(struct kmod_module *m, bool install, const char *options)
{
	snprintf(actions + strlen(actions), sizeof(actions) - strlen(actions),
		 "(%s,%d,\"%s\")", kmod_module_get_name(m), install, options);
}

static int run_install(struct kmod_module *m, const char *cmdline, void *data)
{
	snprintf(actions + strlen(actions), sizeof(actions) - strlen(actions),
		 "run(%s,%s,%s)", kmod_module_get_name(m), cmdline, (const char *)data);
	return 0;
}

static struct kmod_module *lookup_one(struct kmod_ctx *ctx, const char *name)
{
	struct kmod_list *l = NULL;
	struct kmod_module *m = NULL;

	if (kmod_module_new_from_lookup(ctx, name, &l) == 0 && l != NULL)
		m = kmod_module_get_module(l);
	kmod_module_unref_list(l);
	return m;
}

static void names(char *buf, size_t len, struct kmod_list *list)
{
	struct kmod_list *i;

	buf[0] = '\0';
	kmod_list_foreach(i, list) {
		struct kmod_module *m = kmod_module_get_module(i);
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s",
			 buf[0] ? "," : "", kmod_module_get_name(m));
		kmod_module_unref(m);
	}
}

static void null_arguments(void)
{
	struct kmod_list *l = NULL;
	struct kmod_module *m = NULL;

	CHECK(kmod_unref(NULL) == NULL && kmod_ref(NULL) == NULL, "ctx ref/unref NULL");
	CHECK(kmod_module_unref(NULL) == NULL && kmod_module_ref(NULL) == NULL, "module ref/unref NULL");
	CHECK(kmod_module_unref_list(NULL) == 0, "unref_list NULL");
	CHECK(kmod_get_log_priority(NULL) == -1, "get_log_priority(NULL) == -1");
	kmod_set_log_priority(NULL, 7);
	kmod_set_log_fn(NULL, log_fn, NULL);
	kmod_set_userdata(NULL, NULL);
	kmod_unload_resources(NULL);
	CHECK(kmod_get_userdata(NULL) == NULL && kmod_get_dirname(NULL) == NULL, "userdata/dirname NULL");
	CHECK(kmod_load_resources(NULL) == -ENOENT, "load_resources(NULL)");
	CHECK(kmod_validate_resources(NULL) == KMOD_RESOURCES_MUST_RECREATE, "validate(NULL) == 2");
	CHECK(kmod_dump_index(NULL, KMOD_INDEX_MODULES_DEP, 1) == -ENOSYS, "dump_index(NULL) == -ENOSYS");
	CHECK(kmod_list_next(NULL, NULL) == NULL && kmod_list_prev(NULL, NULL) == NULL
	      && kmod_list_last(NULL) == NULL, "list NULL");
	CHECK(kmod_config_get_aliases(NULL) == NULL && !kmod_config_iter_next(NULL)
	      && kmod_config_iter_get_key(NULL) == NULL && kmod_config_iter_get_value(NULL) == NULL,
	      "config iterators NULL");
	kmod_config_iter_free_iter(NULL);
	CHECK(kmod_module_new_from_name(NULL, "a", &m) == -ENOENT
	      && kmod_module_new_from_path(NULL, "/a", &m) == -ENOENT
	      && kmod_module_new_from_lookup(NULL, "a", &l) == -ENOENT
	      && kmod_module_new_from_name_lookup(NULL, "a", &m) == -ENOENT
	      && kmod_module_new_from_loaded(NULL, &l) == -ENOENT, "constructors NULL ctx");
	CHECK(kmod_module_get_name(NULL) == NULL && kmod_module_get_path(NULL) == NULL
	      && kmod_module_get_options(NULL) == NULL && kmod_module_get_install_commands(NULL) == NULL
	      && kmod_module_get_remove_commands(NULL) == NULL
	      && kmod_module_get_dependencies(NULL) == NULL, "getters NULL");
	CHECK(kmod_module_get_initstate(NULL) == -ENOENT && kmod_module_get_refcnt(NULL) == -ENOENT
	      && kmod_module_get_size(NULL) == -ENOENT && kmod_module_get_holders(NULL) == NULL
	      && kmod_module_get_sections(NULL) == NULL, "kernel state NULL");
	CHECK(kmod_module_get_info(NULL, &l) == -ENOENT && kmod_module_get_versions(NULL, &l) == -ENOENT
	      && kmod_module_get_symbols(NULL, &l) == -ENOENT
	      && kmod_module_get_dependency_symbols(NULL, &l) == -ENOENT, "elf getters NULL");
	CHECK(kmod_module_info_get_key(NULL) == NULL && kmod_module_version_get_crc(NULL) == 0
	      && kmod_module_dependency_symbol_get_bind(NULL) == 0
	      && kmod_module_section_get_address(NULL) == (unsigned long)-1
	      && kmod_module_section_get_name(NULL) == NULL, "record accessors NULL");
	kmod_module_info_free_list(NULL);
	kmod_module_versions_free_list(NULL);
	kmod_module_symbols_free_list(NULL);
	kmod_module_dependency_symbols_free_list(NULL);
	kmod_module_section_free_list(NULL);
	CHECK(kmod_module_insert_module(NULL, 0, NULL) == -ENOENT
	      && kmod_module_remove_module(NULL, 0) == -ENOENT
	      && kmod_module_probe_insert_module(NULL, 0, NULL, NULL, NULL, NULL) == -ENOENT,
	      "insert/remove/probe NULL");
	CHECK(kmod_module_initstate_str(KMOD_MODULE_LIVE) != NULL
	      && strcmp(kmod_module_initstate_str(KMOD_MODULE_BUILTIN), "builtin") == 0
	      && kmod_module_initstate_str(9) == NULL, "initstate_str");
	CHECK(kmod_module_apply_filter(NULL, KMOD_FILTER_BLACKLIST, NULL, &l) == -ENOENT, "filter NULL ctx");
}

static void lists_and_lookups(struct kmod_ctx *ctx)
{
	struct kmod_list *l = NULL, *deps;
	struct kmod_module *a, *b;
	char buf[512];
	int r;

	r = kmod_module_new_from_lookup(ctx, "bttv", &l);
	CHECK(r == 0 && l != NULL, "lookup bttv");
	CHECK(kmod_list_next(l, l) == NULL && kmod_list_last(l) == l && kmod_list_prev(l, l) == NULL,
	      "single-entry list: next/prev NULL, last is head");
	r = kmod_module_new_from_lookup(ctx, "bttv", &l);
	CHECK(r == -ENOSYS, "lookup into a non-empty list: -ENOSYS (%d)", r);
	a = kmod_module_get_module(l);
	kmod_module_unref_list(l);
	CHECK(strcmp(s(kmod_module_get_path(a)), "/lib/modules/6.1.0-test/kernel/bttv.ko") == 0,
	      "path of bttv: %s", s(kmod_module_get_path(a)));
	deps = kmod_module_get_dependencies(a);
	names(buf, sizeof(buf), deps);
	kmod_module_unref_list(deps);
	CHECK(strcmp(buf, "tveeprom,videodev") == 0, "deps in load order: %s", buf);
	deps = kmod_module_get_dependencies(a);
	CHECK(deps != NULL && kmod_list_last(deps) != deps, "deps again after freeing the first list");
	CHECK(kmod_list_prev(deps, kmod_list_last(deps)) == deps, "prev of last is head");
	kmod_module_unref_list(deps);
	CHECK(strcmp(s(kmod_module_get_options(a)), "card=2  x=1") == 0,
	      "options joined, tab made a space: '%s'", s(kmod_module_get_options(a)));
	kmod_module_unref(a);

	l = NULL;
	r = kmod_module_new_from_lookup(ctx, "no-such-module", &l);
	CHECK(r == 0 && l == NULL, "not found: 0 and NULL");
	r = kmod_module_new_from_lookup(ctx, "bad]", &l);
	CHECK(r == -EINVAL, "stray bracket: -EINVAL (%d)", r);
	r = kmod_module_new_from_lookup(ctx, "pci:v00008086d0000100Esv1sd2bc02sc00i00", &l);
	names(buf, sizeof(buf), l);
	CHECK(r == 0 && strcmp(buf, "e1000") == 0, "modalias lookup: %s", buf);
	a = kmod_module_get_module(l);
	kmod_module_unref_list(l);
	kmod_module_new_from_name(ctx, "e1000", &b);
	CHECK(a != b, "alias-made object differs from the name-made one");
	kmod_module_unref(a);
	kmod_module_unref(b);

	kmod_module_new_from_name(ctx, "foo-bar.ko.xz", &a);
	kmod_module_new_from_name(ctx, "foo_bar", &b);
	CHECK(strcmp(kmod_module_get_name(a), "foo_bar") == 0 && a == b,
	      "name normalized, same object: %s", kmod_module_get_name(a));
	CHECK(kmod_module_get_path(a) == NULL, "no path for an unknown module");
	kmod_module_unref(a);
	kmod_module_unref(b);

	a = (struct kmod_module *)&buf; /* untouched when nothing is found */
	r = kmod_module_new_from_name_lookup(ctx, "no_such_module", &a);
	CHECK(r == 0 && a == (struct kmod_module *)&buf, "name_lookup not found leaves *mod");
	a = NULL;
	r = kmod_module_new_from_name_lookup(ctx, "ext4", &a);
	CHECK(r == 0 && a != NULL && kmod_module_get_initstate(a) == KMOD_MODULE_BUILTIN
	      && kmod_module_get_path(a) == NULL, "builtin: initstate 0, no path");
	kmod_module_unref(a);

	r = kmod_module_new_from_path(ctx, "/lib/modules/6.1.0-test/kernel/videodev.ko", &a);
	CHECK(r == 0, "new_from_path (%d)", r);
	r = kmod_module_new_from_path(ctx, "/lib/modules/6.1.0-test/kernel/videodev.ko", &b);
	CHECK(r == 0 && a == b, "same path, same object");
	kmod_module_unref(b);
	r = kmod_module_new_from_path(ctx, "/lib/modules/6.1.0-test/kernel/../kernel/videodev.ko", &b);
	CHECK(r == -EEXIST, "another path for the same name: -EEXIST (%d)", r);
	r = kmod_module_new_from_path(ctx, "/nonexistent/x.ko", &b);
	CHECK(r == -ENOENT, "missing file: -ENOENT (%d)", r);
	kmod_module_unref(a);

	r = kmod_module_new_from_loaded(ctx, &l);
	names(buf, sizeof(buf), l);
	CHECK(r == 0 && strcmp(buf, "videodev,mc") == 0, "loaded, in /proc/modules order: %s", buf);
	a = kmod_module_get_module(l);
	kmod_module_unref_list(l);
	CHECK(kmod_module_get_initstate(a) == KMOD_MODULE_LIVE && kmod_module_get_refcnt(a) == 1
	      && kmod_module_get_size(a) == 16384, "videodev live, refcnt 1, size 16384");
	l = kmod_module_get_holders(a);
	names(buf, sizeof(buf), l);
	kmod_module_unref_list(l);
	CHECK(strcmp(buf, "mc") == 0, "holders: %s", buf);
	kmod_module_unref(a);
}

static void config_iterators(struct kmod_ctx *ctx)
{
	struct kmod_config_iter *it;
	char buf[1024] = "";

	it = kmod_config_get_softdeps(ctx);
	CHECK(kmod_config_iter_get_key(it) == NULL, "iterator key NULL before next");
	while (kmod_config_iter_next(it))
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s=%s;",
			 kmod_config_iter_get_key(it), kmod_config_iter_get_value(it));
	CHECK(strcmp(buf, "bttv=pre: a-b cpost: d e-f;") == 0, "softdep value: %s", buf);
	CHECK(kmod_config_iter_next(it), "iterator starts over after the end");
	kmod_config_iter_free_iter(it);

	it = kmod_config_get_blacklists(ctx);
	CHECK(kmod_config_iter_next(it) && strcmp(kmod_config_iter_get_key(it), "tveeprom") == 0
	      && kmod_config_iter_get_value(it) == NULL, "blacklist key, NULL value");
	kmod_config_iter_free_iter(it);

	it = kmod_config_get_install_commands(ctx);
	CHECK(kmod_config_iter_next(it) && strcmp(kmod_config_iter_get_key(it), "snd_dummy") == 0
	      && strcmp(kmod_config_iter_get_value(it), "/bin/true $CMDLINE_OPTS") == 0,
	      "install command: %s", s(kmod_config_iter_get_value(it)));
	kmod_config_iter_free_iter(it);
}

static void probing(struct kmod_ctx *ctx)
{
	struct kmod_module *m;
	struct kmod_list *l = NULL, *out = NULL;
	char buf[256];
	int r;

	m = lookup_one(ctx, "bttv");
	actions[0] = '\0';
	r = kmod_module_probe_insert_module(m, KMOD_PROBE_DRY_RUN | KMOD_PROBE_IGNORE_LOADED,
					    "extra=1", NULL, NULL, print_action);
	CHECK(r == 0, "dry-run probe (%d)", r);
	CHECK(strcmp(actions, "(tveeprom,0,\"\")(videodev,0,\"\")(bttv,0,\"card=2  x=1 extra=1\")") == 0,
	      "dry-run order and options: %s", actions);
	kmod_module_unref(m);

	m = lookup_one(ctx, "tveeprom");
	r = kmod_module_probe_insert_module(m, KMOD_PROBE_APPLY_BLACKLIST, NULL, NULL, NULL, NULL);
	CHECK(r == KMOD_PROBE_APPLY_BLACKLIST, "blacklisted by name: 0x%x", r);
	r = kmod_module_probe_insert_module(m, KMOD_PROBE_APPLY_BLACKLIST_ALIAS_ONLY | KMOD_PROBE_DRY_RUN,
					    NULL, NULL, NULL, NULL);
	CHECK(r == 0, "ALIAS_ONLY does not apply to a name (%d)", r);
	kmod_module_new_from_lookup(ctx, "tveeprom", &l);
	kmod_module_new_from_lookup(ctx, "e1000", &l); /* -ENOSYS: l is not empty */
	r = kmod_module_apply_filter(ctx, KMOD_FILTER_BLACKLIST, l, &out);
	CHECK(r == 0 && out == NULL, "filter drops the blacklisted module");
	kmod_module_unref_list(l);
	kmod_module_unref(m);

	m = lookup_one(ctx, "snd-dummy");
	actions[0] = '\0';
	r = kmod_module_probe_insert_module(m, 0, "index=1", run_install, "data", print_action);
	CHECK(r == 0 && strcmp(actions, "(snd_dummy,1,\"index=1\")run(snd_dummy,/bin/true index=1,data)") == 0,
	      "install command through run_install: %s", actions);
	kmod_module_unref(m);

	m = lookup_one(ctx, "e1000");
	CHECK(kmod_module_get_initstate(m) == -ENOENT, "e1000 not loaded: -ENOENT");
	r = kmod_module_probe_insert_module(m, KMOD_PROBE_APPLY_BLACKLIST, NULL, NULL, NULL, NULL);
	CHECK(r == 0 && kmod_module_get_initstate(m) == KMOD_MODULE_LIVE, "probe loads e1000 (%d)", r);
	r = kmod_module_probe_insert_module(m, KMOD_PROBE_FAIL_ON_LOADED, NULL, NULL, NULL, NULL);
	CHECK(r == -EEXIST, "loaded + FAIL_ON_LOADED: -EEXIST (%d)", r);
	r = kmod_module_remove_module(m, 0);
	CHECK(r == 0 && kmod_module_get_initstate(m) == -ENOENT, "removed (%d)", r);
	kmod_module_unref(m);

	kmod_module_new_from_name(ctx, "nonexistent", &m);
	log_calls = 0;
	logged[0] = '\0';
	r = kmod_module_insert_module(m, 0, NULL);
	CHECK(r == -ENOENT, "insert without a path: -ENOENT");
	CHECK(strcmp(logged, "[me|3|kmod_module_insert_module|file|1]could not find module by name='nonexistent'\n") == 0,
	      "ERR through the client's va_list log function: %s", logged);
	kmod_set_log_priority(ctx, 2);
	kmod_module_insert_module(m, 0, NULL);
	kmod_set_log_priority(ctx, 3);
	CHECK(log_calls == 1, "below the priority nothing is delivered");
	kmod_module_unref(m);
	snprintf(buf, sizeof(buf), "%s", "");
}

static void resources(struct kmod_ctx *ctx, const char *root)
{
	char path[4096];
	struct timeval tv[2];
	int fds[2], r;
	char out[4096] = "";
	ssize_t n;

	CHECK(kmod_load_resources(ctx) == 0, "load_resources");
	CHECK(kmod_validate_resources(ctx) == KMOD_RESOURCES_OK, "validate: OK");
	if (pipe(fds) == 0) {
		r = kmod_dump_index(ctx, KMOD_INDEX_MODULES_ALIAS, fds[1]);
		close(fds[1]);
		n = read(fds[0], out, sizeof(out) - 1);
		out[n > 0 ? n : 0] = '\0';
		close(fds[0]);
		CHECK(r == 0 && strcmp(out, "alias pci:v00008086d0000100Esv*sd*bc*sc*i* e1000\n") == 0,
		      "dump alias index: %s", out);
	}
	CHECK(kmod_dump_index(ctx, 7, 1) == -ENOENT, "dump of an unknown index: -ENOENT");
	snprintf(path, sizeof(path), "%s/lib/modules/6.1.0-test/modules.dep.bin", root);
	gettimeofday(&tv[0], NULL);
	tv[0].tv_sec += 10;
	tv[1] = tv[0];
	utimes(path, tv);
	CHECK(kmod_validate_resources(ctx) == KMOD_RESOURCES_MUST_RELOAD, "touched index: MUST_RELOAD");
	kmod_unload_resources(ctx);
	CHECK(kmod_validate_resources(ctx) == KMOD_RESOURCES_OK, "after unload: OK");
	snprintf(path, sizeof(path), "%s/etc/modprobe.d/new.conf", root);
	close(open(path, O_CREAT | O_WRONLY, 0644));
	/* The directory's new mtime could fall in the same clock tick as
	 * kmod_new's stamp: move it clearly later, as time would. */
	snprintf(path, sizeof(path), "%s/etc/modprobe.d", root);
	utimes(path, tv);
	CHECK(kmod_validate_resources(ctx) == KMOD_RESOURCES_MUST_RECREATE, "new config file: MUST_RECREATE");
	snprintf(path, sizeof(path), "%s/etc/modprobe.d/new.conf", root);
	unlink(path);
}

int main(int argc, char **argv)
{
	struct kmod_ctx *ctx;
	struct kmod_module *kept;

	null_arguments();
	ctx = kmod_new(NULL, NULL);
	CHECK(ctx != NULL, "kmod_new");
	CHECK(strcmp(s(kmod_get_dirname(ctx)), "/lib/modules/6.1.0-test") == 0, "dirname: %s",
	      s(kmod_get_dirname(ctx)));
	CHECK(kmod_get_log_priority(ctx) == LOG_ERR, "default priority 3");
	kmod_set_userdata(ctx, &failures);
	CHECK(kmod_get_userdata(ctx) == &failures, "userdata kept");
	kmod_set_log_fn(ctx, log_fn, "me");

	lists_and_lookups(ctx);
	config_iterators(ctx);
	probing(ctx);
	resources(ctx, argc > 1 ? argv[1] : "");

	kmod_module_new_from_name(ctx, "bttv", &kept);
	CHECK(kmod_unref(ctx) != NULL, "ctx lives on while a module does");
	CHECK(strcmp(s(kmod_module_get_path(kept)), "/lib/modules/6.1.0-test/kernel/bttv.ko") == 0,
	      "module usable after the client's last ctx unref");
	kmod_module_unref(kept);

	printf("%d failed\n", failures);
	return failures ? 1 : 0;
}
