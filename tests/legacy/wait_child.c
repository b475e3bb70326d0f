/*
 * wait_child — a process that waits for its child while one of its threads keeps working.
 * It knows nothing of libgreen: build it with `cc -pthread`.
 *
 *   wait_child
 *
 * main starts a ticker thread (a tick every 20 ms), forks a child that sleeps 0.3 s and
 * exits 7, waits for it with a blocking waitpid, stops the ticker and prints
 *   child exited 7
 *   the ticker ran meanwhile: yes
 * With LD_PRELOAD=libgreen.so, waitpid parks main until the child ends, and the ticker,
 * a green thread on the same OS thread, keeps ticking.
 */
#include <pthread.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int ticks, stop;

static void *ticker(void *arg)
{
    (void)arg;
    while (!stop) {
        usleep(20000);
        ticks++;
    }
    return NULL;
}

int main(void)
{
    pthread_t t;
    pid_t pid;
    int status = 0;

    if (pthread_create(&t, NULL, ticker, NULL) != 0)
        return 1;
    fflush(NULL);
    pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        usleep(300000);
        _exit(7);
    }
    if (waitpid(pid, &status, 0) != pid) {
        perror("wait_child: waitpid");
        return 1;
    }
    stop = 1;
    pthread_join(t, NULL);
    printf("child exited %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    printf("the ticker ran meanwhile: %s\n", ticks >= 5 ? "yes" : "no");
    return 0;
}
