/*
 * stdio.c — FILE streams on sockets, pipes and terminals (fdopen'd sockets, stdin).
 *
 * "The special problem of stdio": glibc's stdio reaches the kernel through libc's internal
 * read and write, which no symbol hook sees, so a fgets on a socket would block the OS
 * thread and every green thread with it.  The shim works at the stream's buffer instead:
 *
 *   reading  data already buffered is taken straight from the buffer (glibc's public
 *            _IO_read_ptr/_IO_read_end, as its own getc macro does); when the buffer is
 *            empty the green thread waits until the descriptor is readable and then lets
 *            glibc refill it once, which then cannot block.  A line (fgets, getline) is
 *            assembled across refills by the shim, so glibc never needs a second read.
 *   writing  before a call that will flush (unbuffered, line-buffered with a newline, a
 *            buffer that would overflow, fflush), the green thread waits until the
 *            descriptor is writable.  A flush larger than the room the peer's socket has
 *            can still block inside glibc.
 *   errors   a signal handler without SA_RESTART or a socket timeout during the wait set
 *            the stream's error flag with errno EINTR or EAGAIN, as glibc's failed read does.
 *   close    another thread closing the descriptor during the wait does not end it: as the
 *            kernel's read or write blocked inside glibc would hold the open file, the wait
 *            follows the file to a hidden number, and glibc's call after it goes there
 *            (the stream's number names it for that one call).
 *
 * Regular files never wait (always readable).  Wide-oriented streams and streams switching
 * between reading and writing go to glibc untouched.  The FILE lock is the OS thread's, so
 * it does not keep two green threads of one OS thread from interleaving on one stream
 * across a wait (unpatched threads would take turns per call).
 * Also hooked: __uflow and __underflow, which the getc/getc_unlocked macros call when the
 * buffer runs dry.  scanf-family calls wait for the first refill only.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "hook.h"

/* glibc's libio flags (libio.h), stable since glibc 2.0. */
#define IO_UNBUFFERED 0x0002
#define IO_NO_READS 0x0004
#define IO_ERR_SEEN 0x0020
#define IO_LINE_BUF 0x0200
#define IO_CURRENTLY_PUTTING 0x0800

extern int __uflow(FILE *);
extern int __underflow(FILE *);

/* A byte stream the shim can serve from its buffer.  One opened for writing only is not:
 * glibc fails the read at once (EBADF), where a wait for input could last forever. */
static int plain_reader(FILE *fp)
{
    return fp && fp->_fileno >= 0 && !(fp->_flags & (IO_CURRENTLY_PUTTING | IO_NO_READS)) &&
           fwide(fp, 0) <= 0;
}

static size_t buffered(FILE *fp)
{
    return fp->_IO_read_ptr < fp->_IO_read_end ? (size_t)(fp->_IO_read_end - fp->_IO_read_ptr)
                                               : 0;
}

/* Wait until fp's descriptor can do events without blocking.  0 when it can (or when the
 * kernel call should just go ahead and report what it reports), -1 with errno set and the
 * stream's error flag up when the wait ended with a signal or a timeout.  If the number was
 * closed meanwhile, fp's number is now the hidden one its file moved to, until
 * give_back(fp, fd) after glibc's call (fd: fp's number before the wait). */
static int wait_fd(FILE *fp, int events)
{
    struct pollfd p = {.fd = fp->_fileno, .events = events == GREEN_READ ? POLLIN : POLLOUT};
    struct green__fd f;
    int64_t timeo, deadline = GREEN_NO_DEADLINE;
    int w, cur = p.fd;

    if (REAL(poll)(&p, 1, 0) != 0 || green__fd_get(p.fd, events, &f) < 0 || f.nonblock ||
        f.kind == GREEN_FD_FILE)
        return 0;
    timeo = events == GREEN_READ ? f.rcvtimeo : f.sndtimeo;
    if (timeo < 0)
        return 0;
    if (timeo > 0)
        deadline = green_now() + timeo;
    green__intr_begin(timeo > 0 ? GREEN_INTR_ALWAYS : GREEN_INTR_RESTARTABLE);
    w = green__hub_wait_io(&cur, NULL, events, deadline);
    green__intr_end();
    fp->_fileno = cur;
    if (w >= 0 || w == -EBADF)
        return 0;
    if (w == -ECANCELED)
        green__api_result(w);
    fp->_flags |= IO_ERR_SEEN;
    errno = w == -ETIMEDOUT ? EAGAIN : -w;
    return -1;
}

/* After glibc's call that followed wait_fd: fp's number is fd again, and the hidden number
 * its file moved to (if it did) is given back; errno stays the call's. */
static void give_back(FILE *fp, int fd)
{
    if (fd >= 0) {
        green__fd_unpark(fd, fp->_fileno);
        fp->_fileno = fd;
    }
}

/* Make at least one byte available in fp's buffer without blocking the OS thread.
 * Returns 0, or EOF (end of file or error, with the stream's flags set by glibc). */
static int refill(FILE *fp)
{
    int c, fd = fp->_fileno;

    if (buffered(fp))
        return 0;
    c = wait_fd(fp, GREEN_READ) < 0 ? EOF : REAL(__underflow)(fp);
    give_back(fp, fd);
    return c == EOF ? EOF : 0;
}

/* Copy up to max bytes from fp, stopping after delim (if delim >= 0); returns the count. */
static size_t take(FILE *fp, char *dst, size_t max, int delim, int *found)
{
    size_t n = buffered(fp);
    char *src = fp->_IO_read_ptr, *hit;

    if (n > max)
        n = max;
    if (delim >= 0 && (hit = memchr(src, delim, n))) {
        n = (size_t)(hit - src) + 1;
        *found = 1;
    }
    memcpy(dst, src, n);
    fp->_IO_read_ptr += n;
    return n;
}

/* ------------------------------------------------------------------- reading */

static char *green_fgets(char *s, int n, FILE *fp)
{
    size_t i = 0;
    int found = 0, err = 0;

    flockfile(fp);
    while (i < (size_t)n - 1 && !found) {
        if (refill(fp) == EOF) {
            err = (fp->_flags & IO_ERR_SEEN) != 0;
            break;
        }
        i += take(fp, s + i, (size_t)n - 1 - i, '\n', &found);
    }
    funlockfile(fp);
    /* glibc: nothing read, or a read error, gives NULL. */
    if (i == 0 || (err && errno != EAGAIN))
        return NULL;
    s[i] = 0;
    return s;
}

#define FGETS_HOOK(name)                                                                    \
    GREEN_EXPORT char *(name)(char *s, int n, FILE *fp)                                     \
    {                                                                                       \
        if (green__bypass(GREEN_F_STDIO) || n <= 1 || !s || !plain_reader(fp))              \
            return REAL(name)(s, n, fp);                                                    \
        return green_fgets(s, n, fp);                                                       \
    }
FGETS_HOOK(fgets)
FGETS_HOOK(fgets_unlocked)

extern void __chk_fail(void) __attribute__((noreturn));

GREEN_EXPORT char *__fgets_chk(char *s, size_t size, int n, FILE *fp)
{
    if ((size_t)n > size)
        __chk_fail();
    return fgets(s, n, fp);
}

GREEN_EXPORT char *__fgets_unlocked_chk(char *s, size_t size, int n, FILE *fp)
{
    if ((size_t)n > size)
        __chk_fail();
    return fgets_unlocked(s, n, fp);
}

GREEN_EXPORT ssize_t getdelim(char **line, size_t *cap, int delim, FILE *fp)
{
    size_t i = 0;
    int found = 0;

    /* glibc's getdelim returns -1 at once, errno untouched, on a stream whose error flag
     * is up (fgets, by contrast, reads on). */
    if (green__bypass(GREEN_F_STDIO) || !line || !cap || !plain_reader(fp) ||
        (fp->_flags & IO_ERR_SEEN))
        return REAL(getdelim)(line, cap, delim, fp);
    flockfile(fp);
    while (!found) {
        if (refill(fp) == EOF)
            break;
        if (!*line || *cap < i + buffered(fp) + 1) {
            size_t want = (i + buffered(fp) + 1) * 2 < 120 ? 120 : (i + buffered(fp) + 1) * 2;
            char *p = realloc(*line, want);
            if (!p) {
                fp->_flags |= IO_ERR_SEEN;
                break;
            }
            *line = p;
            *cap = want;
        }
        i += take(fp, *line + i, *cap - 1 - i, delim, &found);
    }
    funlockfile(fp);
    if (i == 0)
        return -1; /* end of file or error before any byte, as glibc */
    (*line)[i] = 0;
    return (ssize_t)i;
}
GREEN_EXPORT ssize_t __getdelim(char **line, size_t *cap, int delim, FILE *fp)
    __attribute__((alias("getdelim")));

GREEN_EXPORT ssize_t getline(char **line, size_t *cap, FILE *fp)
{
    return getdelim(line, cap, '\n', fp);
}

static size_t green_fread(void *ptr, size_t size, size_t nmemb, FILE *fp)
{
    size_t want = size * nmemb, i = 0;
    int found = 0;

    flockfile(fp);
    while (i < want && refill(fp) != EOF)
        i += take(fp, (char *)ptr + i, want - i, -1, &found);
    funlockfile(fp);
    return i / size;
}

#define FREAD_HOOK(name)                                                                    \
    GREEN_EXPORT size_t(name)(void *ptr, size_t size, size_t nmemb, FILE *fp)               \
    {                                                                                       \
        if (green__bypass(GREEN_F_STDIO) || !size || !nmemb || nmemb > SIZE_MAX / size ||   \
            !plain_reader(fp))                                                              \
            return REAL(name)(ptr, size, nmemb, fp);                                        \
        return green_fread(ptr, size, nmemb, fp);                                           \
    }
FREAD_HOOK(fread)
FREAD_HOOK(fread_unlocked)

GREEN_EXPORT size_t __fread_chk(void *ptr, size_t ptrlen, size_t size, size_t nmemb, FILE *fp)
{
    if (nmemb && size > ptrlen / nmemb)
        __chk_fail();
    return fread(ptr, size, nmemb, fp);
}

GREEN_EXPORT size_t __fread_unlocked_chk(void *ptr, size_t ptrlen, size_t size, size_t nmemb,
                                         FILE *fp)
{
    if (nmemb && size > ptrlen / nmemb)
        __chk_fail();
    return (fread_unlocked)(ptr, size, nmemb, fp);
}

/* One byte: wait if the buffer is dry, then glibc's own call. */
/* (name) in parentheses: glibc defines some of these names as macros too. */
#define GETC_HOOK(name)                                                                     \
    GREEN_EXPORT int(name)(FILE * fp)                                                       \
    {                                                                                       \
        int c, fd;                                                                          \
        if (green__bypass(GREEN_F_STDIO) || !plain_reader(fp) || buffered(fp))              \
            return REAL(name)(fp);                                                          \
        fd = fp->_fileno;                                                                   \
        c = wait_fd(fp, GREEN_READ) < 0 ? EOF : REAL(name)(fp);                             \
        give_back(fp, fd);                                                                  \
        return c;                                                                           \
    }
GETC_HOOK(fgetc)
GETC_HOOK(getc)
GETC_HOOK(_IO_getc)
GETC_HOOK(fgetc_unlocked)
GETC_HOOK(__uflow)
GETC_HOOK(__underflow)

GREEN_EXPORT int getchar(void)
{
    return getc(stdin);
}

/* scanf family: the first refill is cooperative; a conversion that needs more input than
 * one read brings blocks inside glibc. */
GREEN_EXPORT int __isoc99_vfscanf(FILE *fp, const char *fmt, va_list ap)
{
    int r, fd;

    if (green__bypass(GREEN_F_STDIO) || !plain_reader(fp) || buffered(fp))
        return REAL(__isoc99_vfscanf)(fp, fmt, ap);
    fd = fp->_fileno;
    wait_fd(fp, GREEN_READ);
    r = REAL(__isoc99_vfscanf)(fp, fmt, ap);
    give_back(fp, fd);
    return r;
}

GREEN_EXPORT int __isoc99_fscanf(FILE *fp, const char *fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = __isoc99_vfscanf(fp, fmt, ap);
    va_end(ap);
    return r;
}

GREEN_EXPORT int __isoc99_scanf(const char *fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = __isoc99_vfscanf(stdin, fmt, ap);
    va_end(ap);
    return r;
}

/* ------------------------------------------------------------------- writing */

/* Before a write of len bytes (data, if known, to look for a newline): if it will make
 * glibc write to the descriptor, wait until the descriptor has room.  Returns fp's number
 * (or -1), for give_back after glibc's call. */
static int before_write(FILE *fp, const char *data, size_t len, int flush)
{
    int fd = fp ? fp->_fileno : -1;

    if (green__bypass(GREEN_F_STDIO) || fd < 0 || fwide(fp, 0) > 0)
        return fd;
    if (!flush) {
        int unbuffered = fp->_flags & IO_UNBUFFERED;
        int overflow = fp->_IO_buf_end && fp->_IO_write_ptr &&
                       (size_t)(fp->_IO_buf_end - fp->_IO_write_ptr) < len;
        int newline = (fp->_flags & IO_LINE_BUF) && (!data || memchr(data, '\n', len));
        if (!unbuffered && !overflow && !newline)
            return fd;
    }
    wait_fd(fp, GREEN_WRITE);
    return fd;
}

#define FFLUSH_HOOK(name)                                                                   \
    GREEN_EXPORT int(name)(FILE * fp)                                                       \
    {                                                                                       \
        int r, fd = -1;                                                                     \
        if (fp && fp->_IO_write_ptr > fp->_IO_write_base)                                   \
            fd = before_write(fp, NULL, 0, 1);                                              \
        r = REAL(name)(fp);                                                                 \
        give_back(fp, fd);                                                                  \
        return r;                                                                           \
    }
FFLUSH_HOOK(fflush)
FFLUSH_HOOK(fflush_unlocked)

#define FPUTS_HOOK(name)                                                                    \
    GREEN_EXPORT int(name)(const char *s, FILE *fp)                                         \
    {                                                                                       \
        int fd = before_write(fp, s, strlen(s), 0), r = REAL(name)(s, fp);                  \
        give_back(fp, fd);                                                                  \
        return r;                                                                           \
    }
FPUTS_HOOK(fputs)
FPUTS_HOOK(fputs_unlocked)

GREEN_EXPORT int puts(const char *s)
{
    int fd = before_write(stdout, "\n", strlen(s) + 1, 0), r = REAL(puts)(s);

    give_back(stdout, fd);
    return r;
}

#define PUTC_HOOK(name)                                                                     \
    GREEN_EXPORT int(name)(int c, FILE * fp)                                                \
    {                                                                                       \
        char ch = (char)c;                                                                  \
        int fd = before_write(fp, &ch, 1, 0), r = REAL(name)(c, fp);                        \
        give_back(fp, fd);                                                                  \
        return r;                                                                           \
    }
PUTC_HOOK(fputc)
PUTC_HOOK(putc)
PUTC_HOOK(_IO_putc)
PUTC_HOOK(fputc_unlocked)

GREEN_EXPORT int putchar(int c)
{
    return putc(c, stdout);
}

#define FWRITE_HOOK(name)                                                                   \
    GREEN_EXPORT size_t(name)(const void *p, size_t size, size_t n, FILE *fp)               \
    {                                                                                       \
        int fd = -1;                                                                        \
        size_t r;                                                                           \
        if (size && n <= SIZE_MAX / size)                                                   \
            fd = before_write(fp, p, size * n, 0);                                          \
        r = REAL(name)(p, size, n, fp);                                                     \
        give_back(fp, fd);                                                                  \
        return r;                                                                           \
    }
FWRITE_HOOK(fwrite)
FWRITE_HOOK(fwrite_unlocked)

/* The printf family: the length is unknown before formatting, so the format stands in
 * for the data (a newline in it, or a buffer already three-quarters full, means a flush). */
static int before_printf(FILE *fp, const char *fmt)
{
    size_t size;

    if (green__bypass(GREEN_F_STDIO) || !fp || !fmt)
        return -1;
    size = fp->_IO_buf_end && fp->_IO_buf_base ? (size_t)(fp->_IO_buf_end - fp->_IO_buf_base) : 0;
    return before_write(fp, fmt, size ? size / 4 + strlen(fmt) : strlen(fmt), 0);
}

GREEN_EXPORT int vfprintf(FILE *fp, const char *fmt, va_list ap)
{
    int fd = before_printf(fp, fmt), r = REAL(vfprintf)(fp, fmt, ap);

    give_back(fp, fd);
    return r;
}

GREEN_EXPORT int __vfprintf_chk(FILE *fp, int flag, const char *fmt, va_list ap)
{
    int fd = before_printf(fp, fmt), r = REAL(__vfprintf_chk)(fp, flag, fmt, ap);

    give_back(fp, fd);
    return r;
}

GREEN_EXPORT int vprintf(const char *fmt, va_list ap)
{
    return vfprintf(stdout, fmt, ap);
}

GREEN_EXPORT int __vprintf_chk(int flag, const char *fmt, va_list ap)
{
    return __vfprintf_chk(stdout, flag, fmt, ap);
}

GREEN_EXPORT int fprintf(FILE *fp, const char *fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = vfprintf(fp, fmt, ap);
    va_end(ap);
    return r;
}

GREEN_EXPORT int __fprintf_chk(FILE *fp, int flag, const char *fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = __vfprintf_chk(fp, flag, fmt, ap);
    va_end(ap);
    return r;
}

GREEN_EXPORT int printf(const char *fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = vfprintf(stdout, fmt, ap);
    va_end(ap);
    return r;
}

GREEN_EXPORT int __printf_chk(int flag, const char *fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = __vfprintf_chk(stdout, flag, fmt, ap);
    va_end(ap);
    return r;
}

/* dprintf writes with libc's internal write: format here, write with the hooked one. */
GREEN_EXPORT int vdprintf(int fd, const char *fmt, va_list ap)
{
    char *buf;
    int n;
    ssize_t off = 0;

    if (green__bypass(GREEN_F_STDIO))
        return REAL(vdprintf)(fd, fmt, ap);
    n = vasprintf(&buf, fmt, ap);
    if (n < 0)
        return n;
    while (off < n) {
        ssize_t w = write(fd, buf + off, (size_t)(n - off));
        if (w < 0) {
            free(buf);
            return -1;
        }
        off += w;
    }
    free(buf);
    return n;
}

GREEN_EXPORT int dprintf(int fd, const char *fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = vdprintf(fd, fmt, ap);
    va_end(ap);
    return r;
}
