/*
 * The default logger: prints the context's priority on stdout, then makes
 * the library log an error (no path for a module) twice, once through the
 * standard error logger and once after kmod_set_log_fn(NULL) silenced it.
 * The harness sets KMOD_LOG and reads standard error.
 */
#include <stdio.h>
#include <libkmod.h>

int main(void)
{
	struct kmod_ctx *ctx = kmod_new(NULL, NULL);
	struct kmod_module *m;

	printf("priority %d\n", kmod_get_log_priority(ctx));
	fflush(stdout);
	kmod_module_new_from_name(ctx, "nonexistent", &m);
	kmod_module_insert_module(m, 0, NULL);
	kmod_set_log_fn(ctx, NULL, NULL);
	kmod_module_insert_module(m, 0, NULL);
	kmod_module_unref(m);
	kmod_unref(ctx);
	return 0;
}
