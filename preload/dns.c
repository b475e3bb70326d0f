/*
 * dns.c — getaddrinfo, getnameinfo and the gethostbyname family, on the blocking-work
 * pool: name resolution reads files and waits on DNS servers inside libc, where no hook
 * reaches, so it runs on a pool thread while the caller's green thread waits
 * cooperatively.  h_errno, which the pool thread sets in its own thread-local storage, is
 * copied back to the caller.  When no pool thread can be started the call runs inline.
 */
#define _GNU_SOURCE
#include <netdb.h>

#include "hook.h"

struct job {
    int kind;
    const char *name, *service;
    const struct addrinfo *hints;
    struct addrinfo **res;
    const struct sockaddr *sa;
    socklen_t salen;
    char *host, *serv;
    socklen_t hostlen, servlen;
    int flags, af;
    struct hostent *ret, **result;
    char *buf;
    size_t buflen;
    int *herrp;
    int r, err, herr;
    struct hostent *he;
};

enum { GAI, GNI, GHBN, GHBN2, GHBA, GHBN_R, GHBN2_R };

static void run(void *arg)
{
    struct job *j = arg;

    switch (j->kind) {
    case GAI:
        j->r = REAL(getaddrinfo)(j->name, j->service, j->hints, j->res);
        break;
    case GNI:
        j->r = REAL(getnameinfo)(j->sa, j->salen, j->host, j->hostlen, j->serv, j->servlen,
                                 j->flags);
        break;
    case GHBN:
        j->he = REAL(gethostbyname)(j->name);
        break;
    case GHBN2:
        j->he = REAL(gethostbyname2)(j->name, j->af);
        break;
    case GHBA:
        j->he = REAL(gethostbyaddr)(j->service, j->salen, j->af);
        break;
    case GHBN_R:
        j->r = REAL(gethostbyname_r)(j->name, j->ret, j->buf, j->buflen, j->result, j->herrp);
        break;
    case GHBN2_R:
        j->r = REAL(gethostbyname2_r)(j->name, j->af, j->ret, j->buf, j->buflen, j->result,
                                      j->herrp);
        break;
    }
    j->err = errno;
    j->herr = h_errno;
}

/* Run the job on the pool (inline if the pool cannot start); errno and h_errno come back. */
static void resolve(struct job *j)
{
    if (green__pool_run(run, j) < 0)
        run(j);
    errno = j->err;
    h_errno = j->herr;
}

GREEN_EXPORT int getaddrinfo(const char *name, const char *service, const struct addrinfo *hints,
                             struct addrinfo **res)
{
    struct job j = {.kind = GAI, .name = name, .service = service, .hints = hints, .res = res};

    if (green__bypass(GREEN_F_DNS))
        return REAL(getaddrinfo)(name, service, hints, res);
    resolve(&j);
    return j.r;
}

GREEN_EXPORT int getnameinfo(const struct sockaddr *sa, socklen_t salen, char *host,
                             socklen_t hostlen, char *serv, socklen_t servlen, int flags)
{
    struct job j = {.kind = GNI, .sa = sa, .salen = salen, .host = host, .hostlen = hostlen,
                    .serv = serv, .servlen = servlen, .flags = flags};

    if (green__bypass(GREEN_F_DNS))
        return REAL(getnameinfo)(sa, salen, host, hostlen, serv, servlen, flags);
    resolve(&j);
    return j.r;
}

GREEN_EXPORT struct hostent *gethostbyname(const char *name)
{
    struct job j = {.kind = GHBN, .name = name};

    if (green__bypass(GREEN_F_DNS))
        return REAL(gethostbyname)(name);
    resolve(&j);
    return j.he;
}

GREEN_EXPORT struct hostent *gethostbyname2(const char *name, int af)
{
    struct job j = {.kind = GHBN2, .name = name, .af = af};

    if (green__bypass(GREEN_F_DNS))
        return REAL(gethostbyname2)(name, af);
    resolve(&j);
    return j.he;
}

GREEN_EXPORT struct hostent *gethostbyaddr(const void *addr, socklen_t len, int type)
{
    struct job j = {.kind = GHBA, .service = addr, .salen = len, .af = type};

    if (green__bypass(GREEN_F_DNS))
        return REAL(gethostbyaddr)(addr, len, type);
    resolve(&j);
    return j.he;
}

GREEN_EXPORT int gethostbyname_r(const char *name, struct hostent *ret, char *buf, size_t buflen,
                                 struct hostent **result, int *herrp)
{
    struct job j = {.kind = GHBN_R, .name = name, .ret = ret, .buf = buf, .buflen = buflen,
                    .result = result, .herrp = herrp};

    if (green__bypass(GREEN_F_DNS))
        return REAL(gethostbyname_r)(name, ret, buf, buflen, result, herrp);
    resolve(&j);
    return j.r;
}

GREEN_EXPORT int gethostbyname2_r(const char *name, int af, struct hostent *ret, char *buf,
                                  size_t buflen, struct hostent **result, int *herrp)
{
    struct job j = {.kind = GHBN2_R, .name = name, .af = af, .ret = ret, .buf = buf,
                    .buflen = buflen, .result = result, .herrp = herrp};

    if (green__bypass(GREEN_F_DNS))
        return REAL(gethostbyname2_r)(name, af, ret, buf, buflen, result, herrp);
    resolve(&j);
    return j.r;
}
