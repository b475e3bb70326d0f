/*
 * real.h — the one list of every libc function the shim interposes.
 *
 * Each entry X(ret, name, params) generates `real_<name>`, a pointer to the next
 * definition of the symbol (libc's), resolved with dlsym(RTLD_NEXT) by green__real_init().
 * The constructor resolves the whole list; a hook that runs earlier (another library's
 * constructor, the dynamic loader) resolves it on the spot through REAL(name).  A symbol
 * libc lacks stops the program at start with its name, because a hook without its
 * original could only guess.  dlsym may call calloc, which the shim does not wrap, so
 * resolution cannot recurse.
 *
 * Tests may overwrite a real_ pointer (the seam STYLE.md describes) to make the Nth call
 * fail with the errno of their choice.
 */
#ifndef GREEN_REAL_H
#define GREEN_REAL_H

#define _GNU_SOURCE
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

struct mmsghdr;

#define GREEN_REALS(X)                                                                      \
    /* io.c */                                                                              \
    X(ssize_t, read, (int, void *, size_t))                                                 \
    X(ssize_t, write, (int, const void *, size_t))                                          \
    X(ssize_t, readv, (int, const struct iovec *, int))                                     \
    X(ssize_t, writev, (int, const struct iovec *, int))                                    \
    X(ssize_t, pread64, (int, void *, size_t, off_t))                                       \
    X(ssize_t, pwrite64, (int, const void *, size_t, off_t))                                \
    /* socket.c */                                                                          \
    X(int, socket, (int, int, int))                                                         \
    X(int, socketpair, (int, int, int, int *))                                              \
    X(int, accept, (int, struct sockaddr *, socklen_t *))                                   \
    X(int, accept4, (int, struct sockaddr *, socklen_t *, int))                             \
    X(int, connect, (int, const struct sockaddr *, socklen_t))                              \
    X(ssize_t, recv, (int, void *, size_t, int))                                            \
    X(ssize_t, recvfrom, (int, void *, size_t, int, struct sockaddr *, socklen_t *))        \
    X(ssize_t, recvmsg, (int, struct msghdr *, int))                                        \
    X(int, recvmmsg, (int, struct mmsghdr *, unsigned, int, struct timespec *))             \
    X(ssize_t, send, (int, const void *, size_t, int))                                      \
    X(ssize_t, sendto, (int, const void *, size_t, int, const struct sockaddr *, socklen_t)) \
    X(ssize_t, sendmsg, (int, const struct msghdr *, int))                                  \
    X(int, sendmmsg, (int, struct mmsghdr *, unsigned, int))                                \
    X(ssize_t, sendfile64, (int, int, off_t *, size_t))                                     \
    X(ssize_t, splice, (int, off_t *, int, off_t *, size_t, unsigned))                      \
    X(int, close, (int))                                                                    \
    X(int, close_range, (unsigned, unsigned, int))                                          \
    X(void, closefrom, (int))                                                               \
    X(int, shutdown, (int, int))                                                            \
    X(int, dup, (int))                                                                      \
    X(int, dup2, (int, int))                                                                \
    X(int, dup3, (int, int, int))                                                           \
    X(int, fcntl64, (int, int, ...))                                                        \
    /* lock.c */                                                                            \
    X(int, flock, (int, int))                                                               \
    X(int, lockf64, (int, int, off_t))                                                      \
    X(int, ioctl, (int, unsigned long, ...))                                                \
    X(int, setsockopt, (int, int, int, const void *, socklen_t))                            \
    X(int, pipe, (int *))                                                                   \
    X(int, pipe2, (int *, int))                                                             \
    X(int, eventfd, (unsigned, int))                                                        \
    X(int, epoll_create1, (int))                                                            \
    /* poll.c */                                                                            \
    X(int, poll, (struct pollfd *, nfds_t, int))                                            \
    X(int, ppoll, (struct pollfd *, nfds_t, const struct timespec *, const sigset_t *))    \
    X(int, select, (int, fd_set *, fd_set *, fd_set *, struct timeval *))                   \
    X(int, pselect, (int, fd_set *, fd_set *, fd_set *, const struct timespec *,            \
                     const sigset_t *))                                                     \
    X(int, epoll_wait, (int, struct epoll_event *, int, int))                               \
    X(int, epoll_pwait, (int, struct epoll_event *, int, int, const sigset_t *))            \
    X(int, epoll_pwait2, (int, struct epoll_event *, int, const struct timespec *,          \
                          const sigset_t *))                                                \
    /* time.c */                                                                            \
    X(unsigned, sleep, (unsigned))                                                          \
    X(int, usleep, (useconds_t))                                                            \
    X(int, nanosleep, (const struct timespec *, struct timespec *))                         \
    X(int, clock_nanosleep, (clockid_t, int, const struct timespec *, struct timespec *))  \
    /* thread.c */                                                                          \
    X(int, pthread_create, (pthread_t *, const pthread_attr_t *, void *(*)(void *), void *)) \
    X(int, pthread_join, (pthread_t, void **))                                              \
    X(int, pthread_tryjoin_np, (pthread_t, void **))                                        \
    X(int, pthread_timedjoin_np, (pthread_t, void **, const struct timespec *))             \
    X(int, pthread_clockjoin_np, (pthread_t, void **, clockid_t, const struct timespec *))  \
    X(int, pthread_detach, (pthread_t))                                                     \
    X(pthread_t, pthread_self, (void))                                                      \
    X(void, pthread_exit, (void *))                                                         \
    X(int, pthread_cancel, (pthread_t))                                                     \
    X(int, pthread_setcancelstate, (int, int *))                                            \
    X(int, pthread_setcanceltype, (int, int *))                                             \
    X(void, pthread_testcancel, (void))                                                     \
    X(int, pthread_once, (pthread_once_t *, void (*)(void)))                                \
    X(int, pthread_key_create, (pthread_key_t *, void (*)(void *)))                         \
    X(int, pthread_key_delete, (pthread_key_t))                                             \
    X(void *, pthread_getspecific, (pthread_key_t))                                         \
    X(int, pthread_setspecific, (pthread_key_t, const void *))                              \
    X(int, sched_yield, (void))                                                             \
    X(int, pthread_setname_np, (pthread_t, const char *))                                   \
    X(int, pthread_getname_np, (pthread_t, char *, size_t))                                 \
    X(int, pthread_kill, (pthread_t, int))                                                  \
    X(int, pthread_getattr_np, (pthread_t, pthread_attr_t *))                               \
    X(int, pthread_getcpuclockid, (pthread_t, clockid_t *))                                 \
    X(int, pthread_setschedparam, (pthread_t, int, const struct sched_param *))             \
    X(int, pthread_getschedparam, (pthread_t, int *, struct sched_param *))                 \
    X(int, pthread_setschedprio, (pthread_t, int))                                          \
    X(int, pthread_setaffinity_np, (pthread_t, size_t, const cpu_set_t *))                  \
    X(int, pthread_getaffinity_np, (pthread_t, size_t, cpu_set_t *))                        \
    X(void, __pthread_register_cancel, (__pthread_unwind_buf_t *))                          \
    X(void, __pthread_unregister_cancel, (__pthread_unwind_buf_t *))                        \
    X(void, __pthread_unwind_next, (__pthread_unwind_buf_t *))                              \
    /* sync.c */                                                                            \
    X(int, pthread_mutex_init, (pthread_mutex_t *, const pthread_mutexattr_t *))            \
    X(int, pthread_mutex_destroy, (pthread_mutex_t *))                                      \
    X(int, pthread_mutex_lock, (pthread_mutex_t *))                                         \
    X(int, pthread_mutex_trylock, (pthread_mutex_t *))                                      \
    X(int, pthread_mutex_timedlock, (pthread_mutex_t *, const struct timespec *))           \
    X(int, pthread_mutex_clocklock, (pthread_mutex_t *, clockid_t, const struct timespec *)) \
    X(int, pthread_mutex_unlock, (pthread_mutex_t *))                                       \
    X(int, pthread_mutex_consistent, (pthread_mutex_t *))                                   \
    X(int, pthread_cond_init, (pthread_cond_t *, const pthread_condattr_t *))               \
    X(int, pthread_cond_destroy, (pthread_cond_t *))                                        \
    X(int, pthread_cond_wait, (pthread_cond_t *, pthread_mutex_t *))                        \
    X(int, pthread_cond_timedwait, (pthread_cond_t *, pthread_mutex_t *,                    \
                                    const struct timespec *))                               \
    X(int, pthread_cond_clockwait, (pthread_cond_t *, pthread_mutex_t *, clockid_t,         \
                                    const struct timespec *))                               \
    X(int, pthread_cond_signal, (pthread_cond_t *))                                         \
    X(int, pthread_cond_broadcast, (pthread_cond_t *))                                      \
    X(int, pthread_rwlock_init, (pthread_rwlock_t *, const pthread_rwlockattr_t *))         \
    X(int, pthread_rwlock_destroy, (pthread_rwlock_t *))                                    \
    X(int, pthread_rwlock_rdlock, (pthread_rwlock_t *))                                     \
    X(int, pthread_rwlock_tryrdlock, (pthread_rwlock_t *))                                  \
    X(int, pthread_rwlock_timedrdlock, (pthread_rwlock_t *, const struct timespec *))       \
    X(int, pthread_rwlock_clockrdlock, (pthread_rwlock_t *, clockid_t,                      \
                                        const struct timespec *))                           \
    X(int, pthread_rwlock_wrlock, (pthread_rwlock_t *))                                     \
    X(int, pthread_rwlock_trywrlock, (pthread_rwlock_t *))                                  \
    X(int, pthread_rwlock_timedwrlock, (pthread_rwlock_t *, const struct timespec *))       \
    X(int, pthread_rwlock_clockwrlock, (pthread_rwlock_t *, clockid_t,                      \
                                        const struct timespec *))                           \
    X(int, pthread_rwlock_unlock, (pthread_rwlock_t *))                                     \
    X(int, pthread_spin_lock, (pthread_spinlock_t *))                                       \
    X(int, pthread_barrier_init, (pthread_barrier_t *, const pthread_barrierattr_t *,       \
                                  unsigned))                                                \
    X(int, pthread_barrier_destroy, (pthread_barrier_t *))                                  \
    X(int, pthread_barrier_wait, (pthread_barrier_t *))                                     \
    X(int, sem_init, (sem_t *, int, unsigned))                                              \
    X(int, sem_destroy, (sem_t *))                                                          \
    X(int, sem_wait, (sem_t *))                                                             \
    X(int, sem_trywait, (sem_t *))                                                          \
    X(int, sem_timedwait, (sem_t *, const struct timespec *))                               \
    X(int, sem_clockwait, (sem_t *, clockid_t, const struct timespec *))                    \
    X(int, sem_post, (sem_t *))                                                             \
    X(int, sem_getvalue, (sem_t *, int *))                                                  \
    /* signal.c */                                                                          \
    X(int, sigaction, (int, const struct sigaction *, struct sigaction *))                  \
    X(int, pause, (void))                                                                   \
    X(int, sigsuspend, (const sigset_t *))                                                  \
    X(int, sigtimedwait, (const sigset_t *, siginfo_t *, const struct timespec *))          \
    X(int, signalfd, (int, const sigset_t *, int))                                          \
    /* process.c */                                                                         \
    X(pid_t, fork, (void))                                                                  \
    X(pid_t, waitpid, (pid_t, int *, int))                                                  \
    X(pid_t, wait4, (pid_t, int *, int, struct rusage *))                                   \
    X(int, waitid, (idtype_t, id_t, siginfo_t *, int))                                      \
    X(int, system, (const char *))                                                          \
    X(FILE *, popen, (const char *, const char *))                                          \
    X(int, pclose, (FILE *))                                                                \
    X(int, posix_spawn, (pid_t *, const char *, const posix_spawn_file_actions_t *,         \
                         const posix_spawnattr_t *, char *const[], char *const[]))          \
    X(int, posix_spawnp, (pid_t *, const char *, const posix_spawn_file_actions_t *,        \
                          const posix_spawnattr_t *, char *const[], char *const[]))         \
    /* dns.c */                                                                             \
    X(int, getaddrinfo, (const char *, const char *, const struct addrinfo *,               \
                         struct addrinfo **))                                               \
    X(int, getnameinfo, (const struct sockaddr *, socklen_t, char *, socklen_t, char *,     \
                         socklen_t, int))                                                   \
    X(struct hostent *, gethostbyname, (const char *))                                      \
    X(struct hostent *, gethostbyname2, (const char *, int))                                \
    X(struct hostent *, gethostbyaddr, (const void *, socklen_t, int))                      \
    X(int, gethostbyname_r, (const char *, struct hostent *, char *, size_t,                \
                             struct hostent **, int *))                                     \
    X(int, gethostbyname2_r, (const char *, int, struct hostent *, char *, size_t,          \
                              struct hostent **, int *))                                    \
    /* stdio.c */                                                                           \
    X(char *, fgets, (char *, int, FILE *))                                                 \
    X(char *, fgets_unlocked, (char *, int, FILE *))                                        \
    X(ssize_t, getdelim, (char **, size_t *, int, FILE *))                                  \
    X(size_t, fread, (void *, size_t, size_t, FILE *))                                      \
    X(size_t, fread_unlocked, (void *, size_t, size_t, FILE *))                             \
    X(int, fgetc, (FILE *))                                                                 \
    X(int, getc, (FILE *))                                                                  \
    X(int, _IO_getc, (FILE *))                                                              \
    X(int, fgetc_unlocked, (FILE *))                                                        \
    X(int, __uflow, (FILE *))                                                               \
    X(int, __underflow, (FILE *))                                                           \
    X(int, __isoc99_vfscanf, (FILE *, const char *, va_list))                               \
    X(int, fflush, (FILE *))                                                                \
    X(int, fflush_unlocked, (FILE *))                                                       \
    X(int, fputs, (const char *, FILE *))                                                   \
    X(int, fputs_unlocked, (const char *, FILE *))                                          \
    X(int, puts, (const char *))                                                            \
    X(int, fputc, (int, FILE *))                                                            \
    X(int, putc, (int, FILE *))                                                             \
    X(int, _IO_putc, (int, FILE *))                                                         \
    X(int, fputc_unlocked, (int, FILE *))                                                   \
    X(size_t, fwrite, (const void *, size_t, size_t, FILE *))                               \
    X(size_t, fwrite_unlocked, (const void *, size_t, size_t, FILE *))                      \
    X(int, vfprintf, (FILE *, const char *, va_list))                                       \
    X(int, __vfprintf_chk, (FILE *, int, const char *, va_list))                            \
    X(int, vdprintf, (int, const char *, va_list))

#define X(ret, name, params) extern ret(*real_##name) params;
GREEN_REALS(X)
#undef X

void green__real_init(void);

#define REAL(name) (__builtin_expect(real_##name != NULL, 1) ? real_##name \
                                                            : (green__real_init(), real_##name))

#endif
