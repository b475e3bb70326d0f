/*
 * eat_play — the gevent tutorial's eat/play in classic C: two threads that sleep, and a
 * main that joins them.  It knows nothing of libgreen: build it with `cc -pthread`.
 *
 *   eat_play
 *
 * eat prints "egon eat 1", sleeps 0.4 s (sleep() takes whole seconds; usleep keeps the
 * run short), prints "egon eat 2"; play prints "egon play 1", sleeps 0.2 s, prints
 * "egon play 2"; main joins both and prints "main: both done".  gevent's order is
 *   egon eat 1 / egon play 1 / egon play 2 / egon eat 2 / main: both done
 * With LD_PRELOAD=libgreen.so it is exactly that; unpatched, the first two lines race
 * (two OS threads start at once) and the rest follow the sleeps.
 */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static void *eat(void *name)
{
    printf("%s eat 1\n", (char *)name);
    usleep(400000);
    printf("%s eat 2\n", (char *)name);
    return NULL;
}

static void *play(void *name)
{
    printf("%s play 1\n", (char *)name);
    usleep(200000);
    printf("%s play 2\n", (char *)name);
    return NULL;
}

int main(void)
{
    pthread_t g1, g2;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (pthread_create(&g1, NULL, eat, "egon") || pthread_create(&g2, NULL, play, "egon")) {
        fprintf(stderr, "eat_play: pthread_create failed\n");
        return 1;
    }
    pthread_join(g1, NULL);
    pthread_join(g2, NULL);
    printf("main: both done\n");
    return 0;
}
