/*
 * test_peers.c — the peer servers of scripts/compare.sh (bench/peers, mk/peers.mk) keep
 * the interface compare.sh relies on:
 *
 *   <server> PORT    listens on 127.0.0.1:PORT (0: any free port), prints exactly
 *                    "listening on <port>" on stdout once accepting, echoes every read back
 *                    unchanged, writes nothing else (a client's reset included), and exits
 *                    0, silently, on SIGTERM.
 *
 * Each test starts one peer, connects 20 clients at once and runs three rounds over all of
 * them concurrently, every client sending a distinct binary payload (every byte value
 * occurs, NULs and newlines included) of 1 to 8192 bytes, and checks each echo byte for
 * byte.  The peers are found in $GREEN_PEERS_DIR, else $GREEN_LEGACY_DIR/../peers (both
 * set by the make targets that run this binary).  Nothing here is patched: the peers are
 * what libgreen is measured against, not programs under the shim.
 */
#include "common.h"

#include <stdint.h>

#define PEER_CLIENTS 20
#define PEER_ROUNDS 3
#define PEER_MSG_MAX 8192

TestSuite(peers, .timeout = 30);

static const char *peers_dir(char *buf, size_t len)
{
    const char *d = getenv("GREEN_PEERS_DIR");

    if (d && *d)
        return d;
    snprintf(buf, len, "%s/../peers", legacy_dir());
    return buf;
}

/* Client i's payload for round r: pseudo-random bytes (xorshift seeded by i and r), the
 * length spread over 1 .. PEER_MSG_MAX with both ends taken by some client. */
static size_t peer_payload(int i, int r, unsigned char *buf)
{
    size_t len = i == 0 && r == 0 ? 1
               : i == 1 && r == 0 ? PEER_MSG_MAX
               : 1 + ((size_t)i * 2087 + (size_t)r * 3989) % PEER_MSG_MAX;
    uint32_t x = 0x9e3779b9u ^ (uint32_t)(i * 7919 + r * 104729 + 1);

    for (size_t k = 0; k < len; k++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[k] = (unsigned char)(x >> 11);
    }
    return len;
}

struct peer_client {
    int fd, round;
    size_t len, sent, got;
    unsigned char out[PEER_MSG_MAX], in[PEER_MSG_MAX + 1];
};

/* Run PEER_ROUNDS rounds of echo over n connected non-blocking sockets at once, sending
 * and receiving in the same loop (a peer echoes while a large payload is still arriving).
 * Returns how many clients finished every round; the first failure goes to err. */
static int peer_echo(int *fds, int n, double timeout_s, char *err, size_t errlen)
{
    struct peer_client *c = calloc((size_t)n, sizeof *c);
    struct pollfd *pf = calloc((size_t)n, sizeof *pf);
    double end = now_s() + timeout_s;
    int active = n, done = 0;

    cr_assert(c && pf);
    for (int i = 0; i < n; i++) {
        c[i].fd = fds[i];
        c[i].len = peer_payload(i, 0, c[i].out);
        pf[i] = (struct pollfd){.fd = fds[i], .events = POLLIN | POLLOUT};
    }
    while (active > 0) {
        int left_ms = (int)((end - now_s()) * 1000);

        if (left_ms <= 0) {
            if (!err[0])
                snprintf(err, errlen, "%d of %d clients unfinished after %.1f s", active, n,
                         timeout_s);
            break;
        }
        if (poll(pf, (nfds_t)n, left_ms < 1000 ? left_ms : 1000) < 0 && errno != EINTR)
            break;
        for (int i = 0; i < n; i++) {
            struct peer_client *p = &c[i];
            ssize_t k;

            if (pf[i].fd < 0 || !pf[i].revents)
                continue;
            if (p->sent < p->len && (pf[i].revents & (POLLOUT | POLLERR | POLLHUP))) {
                k = send(p->fd, p->out + p->sent, p->len - p->sent, MSG_NOSIGNAL);
                if (k < 0 && errno != EAGAIN) {
                    snprintf(err, errlen, "client %d round %d: send: %s", i, p->round,
                             strerror(errno));
                    goto failed;
                }
                p->sent += k > 0 ? (size_t)k : 0;
                if (p->sent == p->len)
                    pf[i].events = POLLIN;
            }
            if (!(pf[i].revents & (POLLIN | POLLERR | POLLHUP)))
                continue;
            /* Never ask for more than this round's echo: a byte beyond it would be a bug. */
            k = recv(p->fd, p->in + p->got, p->len - p->got + 1, 0);
            if (k < 0 && errno == EAGAIN)
                continue;
            if (k <= 0) {
                snprintf(err, errlen, "client %d round %d: %s after %zu of %zu bytes sent, %zu back",
                         i, p->round, k == 0 ? "connection closed" : strerror(errno), p->sent,
                         p->len, p->got);
                goto failed;
            }
            p->got += (size_t)k;
            if (p->got > p->len || (p->got > 0 && memcmp(p->in, p->out, p->got))) {
                size_t at = 0;
                while (at < p->got && at < p->len && p->in[at] == p->out[at])
                    at++;
                snprintf(err, errlen,
                         "client %d round %d: echo differs at byte %zu of %zu (%zu back)", i,
                         p->round, at, p->len, p->got);
                goto failed;
            }
            if (p->got < p->len)
                continue;
            if (++p->round == PEER_ROUNDS) {
                pf[i].fd = -1;
                active--;
                done++;
                continue;
            }
            p->len = peer_payload(i, p->round, p->out);
            p->sent = p->got = 0;
            pf[i].events = POLLIN | POLLOUT;
            continue;
        failed:
            pf[i].fd = -1;
            active--;
            end = now_s(); /* one failure is enough to report */
        }
    }
    free(pf);
    free(c);
    return done;
}

/* Start peer prog (in the peers directory) with env, on port (0: any), check its
 * "listening on" line, echo with 20 clients, SIGTERM it and check it exited 0 silently. */
static void peer_check(const char *prog, const char *const *env, int port)
{
    const struct legacy_opts o = {.env = env};
    struct clients cs;
    struct legacy p;
    char dir[4096], path[4200], arg[16], err[512] = "", line[64], st[96];
    int got, done, fds[PEER_CLIENTS];
    char *out;

    snprintf(path, sizeof path, "%s/%s", peers_dir(dir, sizeof dir), prog);
    snprintf(arg, sizeof arg, "%d", port);
    child_startv(&p, &o, prog, path, (char *const[]){(char *)prog, arg, NULL});
    got = legacy_port(&p, 15.0);
    if (port)
        cr_expect_eq(got, port, "%s was given port %d but says it listens on %d", prog, port,
                     got);

    cr_assert_eq(clients_open(&cs, got, PEER_CLIENTS, 10.0), PEER_CLIENTS, "%s: %s", prog,
                 cs.error);
    for (int i = 0; i < PEER_CLIENTS; i++)
        fds[i] = cs.c[i].fd;
    done = peer_echo(fds, PEER_CLIENTS, 15.0, err, sizeof err);
    /* Half the clients leave with a reset, as loadgen's do (SO_LINGER 0): a peer must take
     * that silently too.  The pause gives it time to notice before SIGTERM. */
    for (int i = 0; i < PEER_CLIENTS; i += 2)
        setsockopt(fds[i], SOL_SOCKET, SO_LINGER, &(struct linger){1, 0}, sizeof(struct linger));
    clients_close(&cs);
    sleep_s(0.3);
    cr_expect_eq(done, PEER_CLIENTS, "%s: %d of %d clients echoed correctly: %s", prog, done,
                 PEER_CLIENTS, err);

    cr_assert_eq(kill(p.pid, SIGTERM), 0);
    cr_assert(legacy_wait(&p, 10.0), "%s: still running 10 s after SIGTERM", prog);
    out = legacy_out(&p);
    snprintf(line, sizeof line, "listening on %d\n", got);
    cr_expect(WIFEXITED(p.status) && WEXITSTATUS(p.status) == 0,
              "%s: SIGTERM should end it with exit 0, got %s; output:\n%s", prog,
              status_text(p.status, st, sizeof st), out);
    cr_expect_str_eq(out, line, "%s: its whole output should be the one line \"%s\"", prog,
                     line);
    free(out);
    legacy_done(&p);
}

Test(peers, libev_echo_echoes_binary_payloads_and_exits_0_on_sigterm)
{
    peer_check("libev_echo", NULL, 0);
}

Test(peers, libev_echo_listens_on_the_port_it_is_given)
{
    peer_check("libev_echo", NULL, free_port());
}

Test(peers, gevent_echo_echoes_binary_payloads_and_exits_0_on_sigterm)
{
    peer_check("gevent_echo.py", NULL, 0);
}

Test(peers, gevent_echo_listens_on_the_port_it_is_given)
{
    peer_check("gevent_echo.py", NULL, free_port());
}

Test(peers, go_echo_gomaxprocs_1_echoes_binary_payloads_and_exits_0_on_sigterm)
{
    peer_check("go_echo", (const char *const[]){"GOMAXPROCS=1", NULL}, 0);
}

Test(peers, go_echo_gomaxprocs_2_echoes_binary_payloads_and_exits_0_on_sigterm)
{
    peer_check("go_echo", (const char *const[]){"GOMAXPROCS=2", NULL}, 0);
}

Test(peers, go_echo_listens_on_the_port_it_is_given)
{
    peer_check("go_echo", (const char *const[]){"GOMAXPROCS=1", NULL}, free_port());
}
