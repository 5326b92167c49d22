/* Stable Rust cannot make a va_list: this calls a client's log function
 * with the message as the single argument of a "%s" format. */
#include <stdarg.h>

typedef void (*modutils_log_fn)(void *data, int priority, const char *file,
                                int line, const char *fn, const char *format,
                                va_list args);

static void call_with_args(modutils_log_fn log_fn, void *data, int priority,
                           const char *file, int line, const char *fn,
                           const char *format, ...)
{
	va_list args;

	va_start(args, format);
	log_fn(data, priority, file, line, fn, format, args);
	va_end(args);
}

void modutils_libkmod_call_log_fn(modutils_log_fn log_fn, void *data,
                                  int priority, const char *file, int line,
                                  const char *fn, const char *message)
{
	call_with_args(log_fn, data, priority, file, line, fn, "%s", message);
}
