/*
 * config.c — the runtime's settings, read once from the environment on first use.
 *
 * A bad value stops the program at once with exit status 2 and one line that names the
 * variable, the value, and what is accepted: running with a setting silently replaced by a
 * default would hide the mistake until it matters.  The value is shown escaped (bytes
 * outside printable ASCII, quote and backslash as \xNN) and cut after its first
 * SHOWN_VALUE bytes, so that a newline in it cannot split the line and a 64 KiB value
 * cannot push the accepted values out of the message.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "internal.h"

#define DEFAULT_STACK_SIZE (256u * 1024)
#define MIN_STACK_SIZE (16u * 1024)
#define MAX_STACK_SIZE (1u << 30)
#define SHOWN_VALUE 64

static struct green__config config;
static int config_done;
static unsigned config_lock;

int green__parse_size(const char *s, size_t lo, size_t hi, size_t *out)
{
    char *end;
    unsigned long long v;
    unsigned shift = 0;

    if (!s || *s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno)
        return -EINVAL;
    switch (*end) {
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    }
    if (shift && (!strcasecmp(end, "ib") || !strcasecmp(end, "b")))
        end += strlen(end);
    if (*end || v > (~0ULL >> shift))
        return -EINVAL;
    v <<= shift;
    if (v < lo || v > hi)
        return -EINVAL;
    *out = (size_t)v;
    return 0;
}

void green__bad_setting(const char *var, const char *value, const char *accepted)
{
    char shown[SHOWN_VALUE * 4 + 1], *p = shown;
    size_t len = strlen(value);

    for (size_t i = 0; i < len && i < SHOWN_VALUE; i++) {
        unsigned char c = (unsigned char)value[i];
        if (c >= 32 && c < 127 && c != '"' && c != '\\') {
            *p++ = (char)c;
        } else {
            *p++ = '\\';
            *p++ = 'x';
            *p++ = "0123456789abcdef"[c >> 4];
            *p++ = "0123456789abcdef"[c & 15];
        }
    }
    *p = 0;
    if (len > SHOWN_VALUE)
        green__say("%s=\"%s\"... (%zu bytes) is not valid: %s", var, shown, len, accepted);
    else
        green__say("%s=\"%s\" is not valid: %s", var, shown, accepted);
    _exit(2);
}

static void load(void)
{
    const char *v = getenv("GREEN_STACK_SIZE");

    config.stack_size = DEFAULT_STACK_SIZE;
    if (v && green__parse_size(v, MIN_STACK_SIZE, MAX_STACK_SIZE, &config.stack_size) < 0)
        green__bad_setting("GREEN_STACK_SIZE", v,
                           "give a size from 16k to 1g, in bytes or with a k, m or g suffix "
                           "(e.g. GREEN_STACK_SIZE=512k); unset it for the default, 256k");
    config.stack_size = (config.stack_size + 4095) & ~(size_t)4095;
}

const struct green__config *green__config(void)
{
    if (GREEN_LIKELY(__atomic_load_n(&config_done, __ATOMIC_ACQUIRE)))
        return &config;
    green__spin_lock(&config_lock);
    if (!config_done) {
        load();
        __atomic_store_n(&config_done, 1, __ATOMIC_RELEASE);
    }
    green__spin_unlock(&config_lock);
    return &config;
}
