/*
 * test_diff.c — the differential suite: every scenario of the tests/legacy/probe_*
 * programs runs twice, unpatched and with LD_PRELOAD=$GREEN_LIB in the child's environment
 * only, and the two transcripts must be identical: stdout (each call's result, errno by
 * name, bytes, signals caught, coarse timing facts), stderr, and how the process ended
 * (exit status or terminating signal).  tests/legacy/probe.h describes the transcript.
 *
 * The table below lists, per hook family (one Criterion suite each, diff_<family>), every
 * scenario with the probe program that runs it and a piece of text the unpatched transcript
 * must contain: proof that the scenario really meets the case its name promises (EINTR,
 * EAGAIN, a reset, a full write), so a scenario that silently stopped testing anything
 * fails instead of passing.  diff::the_table_lists_every_probe_scenario keeps the table
 * and the probes in step.
 *
 * Both runs start together.  The unpatched run gets UNPATCHED_LIMIT_S; the patched one
 * PATCHED_LIMIT_S from its start (a scenario takes well under a second unpatched), after
 * which it is killed and reported as still running: a wait the shim never ends.
 *
 * A scenario that differs is a finding about the shim: it stays here, failing, until the
 * shim is fixed.
 */
#include "common.h"

#define UNPATCHED_LIMIT_S 5.0
#define PATCHED_LIMIT_S 1.5

/* The cases every receiving call of probe_rw meets (its RECEIVE_CASES), and every sending
 * call (SEND_CASES): scenario <call>_<case>. */
#define RECEIVE_CASES(X, call)                                                              \
    X(rw, call, call##_badfd, "EBADF")                                                      \
    X(rw, call, call##_closed, "EBADF")                                                     \
    X(rw, call, call##_eof, "got: \"ab\"")                                                  \
    X(rw, call, call##_eof_while_waiting, "exit 0")                                         \
    X(rw, call, call##_dgram_shutdown, "= 0")                                               \
    X(rw, call, call##_waits_for_data, "got: \"late\"")                                     \
    X(rw, call, call##_nonblock, "EAGAIN")                                                  \
    X(rw, call, call##_rcvtimeo, "waited >=80ms: yes")                                      \
    X(rw, call, call##_eintr, "EINTR")                                                      \
    X(rw, call, call##_sa_restart, "ALRMx2")                                                \
    X(rw, call, call##_reset, "ECONNRESET")                                                 \
    X(rw, call, call##_reset_while_waiting, "ECONNRESET")
#define CHK_CASES(X, call)                                                                  \
    X(rw, call, call##_waits_for_data, "got: \"late\"")                                     \
    X(rw, call, call##_nonblock, "EAGAIN")                                                  \
    X(rw, call, call##_rcvtimeo, "waited >=80ms: yes")                                      \
    X(rw, call, call##_eintr, "EINTR")
#define SEND_CASES(X, call)                                                                 \
    X(rw, call, call##_badfd, "EBADF")                                                      \
    X(rw, call, call##_closed, "EBADF")                                                     \
    X(rw, call, call##_epipe, "EPIPE +PIPE")                                                \
    X(rw, call, call##_epipe_kills, "killed by SIGPIPE")                                    \
    X(rw, call, call##_nonblock_full, "EAGAIN")                                             \
    X(rw, call, call##_sndtimeo_full, "waited >=80ms: yes")                                 \
    X(rw, call, call##_eintr_full, "EINTR")                                                 \
    X(rw, call, call##_sa_restart, "ALRMx2")                                                \
    X(rw, call, call##_reset, "ECONNRESET")                                                 \
    X(rw, call, call##_peer_closes_while_waiting, "ECONNRESET")

/* The cases every multiplexing call of probe_mux meets (its WAITING_CASES). */
#define WAITING_CASES(X, call)                                                              \
    X(mux, call, call##_timeout, "waited >=80ms: yes")                                      \
    X(mux, call, call##_ready, "ms = 0")                                                    \
    X(mux, call, call##_waits, ") = 1")                                                     \
    X(mux, call, call##_eintr, "EINTR +ALRM")                                               \
    X(mux, call, call##_sa_restart, "EINTR +ALRM")                                          \
    X(mux, call, call##_closed_while_waiting, "ms = 300")

/* X(probe, family, scenario, what the unpatched transcript contains) */
#define SCENARIOS(X)                                                                        \
    /* read */                                                                              \
    RECEIVE_CASES(X, read)                                                                  \
    CHK_CASES(X, read_chk)                                                                  \
    X(rw, read, read_chk_overflow, "killed by SIGABRT")                                     \
    X(rw, read, read_data, "got: \"hello\"")                                                \
    X(rw, read, read_zero_len, "got: \"a\"")                                                \
    X(rw, read, read_efault, "EFAULT")                                                      \
    X(rw, read, read_nonblock_pipe2, "EAGAIN")                                              \
    X(rw, read, read_pipe, "got: \"piped\"")                                                \
    X(rw, read, read_pipe_eintr, "EINTR")                                                   \
    X(rw, read, read_rcvtimeo_eintr, "EINTR")                                               \
    X(rw, read, read_eventfd, "EINVAL")                                                     \
    X(rw, read, read_eventfd_nonblock, "EAGAIN")                                            \
    X(rw, read, read_eventfd_waits, "value 1")                                              \
    X(rw, read, read_regular_file, "got: \"file data\"")                                    \
    X(rw, read, read_signal_between_waits, "ended before the fallback: yes")                \
    X(rw, read, read_restart_between_waits, "interrupted: yes")                             \
    /* write */                                                                             \
    SEND_CASES(X, write)                                                                    \
    X(rw, write, write_big_blocking, "= full")                                              \
    X(rw, write, write_big_peer_closes, "= partial")                                        \
    X(rw, write, write_efault, "EFAULT")                                                    \
    X(rw, write, write_zero_len, "EPIPE")                                                   \
    X(rw, write, write_epipe_ignored, "EPIPE")                                              \
    X(rw, write, write_pipe_epipe, "EPIPE")                                                 \
    X(rw, write, write_nonblock_partial, "partial")                                         \
    X(rw, write, write_pipe_nonblock_full, "EAGAIN")                                        \
    X(rw, write, write_big_blocking_tcp, "= full")                                          \
    X(rw, write, write_big_blocking_pipe, "= full")                                         \
    X(rw, write, write_sndtimeo_partial, "partial")                                         \
    X(rw, write, write_sa_restart_partial, "partial +ALRM")                                 \
    X(rw, write, write_eintr_partial, "partial +ALRM")                                      \
    X(rw, write, write_interrupted_fills_buffers, "buffers full: yes")                      \
    X(rw, write, write_in_thread_under_restart_timer, "writer moved all: yes")              \
    /* readv */                                                                             \
    RECEIVE_CASES(X, readv)                                                                 \
    X(rw, readv, readv_data, "b: \" world\"")                                               \
    X(rw, readv, readv_iovcnt, "EINVAL")                                                    \
    X(rw, readv, readv_zero_len, "returned before 200ms: yes")                              \
    X(rw, readv, readv_efault, "EFAULT")                                                    \
    /* writev */                                                                            \
    SEND_CASES(X, writev)                                                                   \
    X(rw, writev, writev_big_blocking, "= full")                                            \
    X(rw, writev, writev_big_peer_closes, "= partial")                                      \
    X(rw, writev, writev_data, "got: \"one two\"")                                          \
    X(rw, writev, writev_iovcnt, "EINVAL")                                                  \
    X(rw, writev, writev_efault, "EFAULT")                                                  \
    /* recv */                                                                              \
    RECEIVE_CASES(X, recv)                                                                  \
    CHK_CASES(X, recv_chk)                                                                  \
    X(rw, recv, recv_notsock, "ENOTSOCK")                                                   \
    X(rw, recv, recv_data, "got: \"hello\"")                                                \
    X(rw, recv, recv_peek, "got: \"peek\"")                                                 \
    X(rw, recv, recv_waitall, "got: \"abcdef\"")                                            \
    X(rw, recv, recv_waitall_eof, "got: \"abc\"")                                           \
    X(rw, recv, recv_waitall_rcvtimeo, "waited >=80ms: yes")                                \
    X(rw, recv, recv_waitall_eintr, "= 3 +ALRM")                                            \
    X(rw, recv, recv_dontwait, "EAGAIN")                                                    \
    X(rw, recv, recv_zero_len, "EAGAIN")                                                    \
    X(rw, recv, recv_efault, "EFAULT")                                                      \
    X(rw, recv, recv_shutdown_wakes, "4, 0) = 0")                                           \
    X(rw, recv, recv_waitall_dgram, "got: \"0123456789\"")                                  \
    X(rw, recv, recvfrom_udp_shutdown_wakes, "NULL) = 0")                                   \
    X(rw, recv, recvmmsg_dgram_shutdown_slots, "lengths 2 0 0")                             \
    /* recvfrom */                                                                          \
    RECEIVE_CASES(X, recvfrom)                                                              \
    CHK_CASES(X, recvfrom_chk)                                                              \
    X(rw, recvfrom, recvfrom_udp, "got: \"datagram\"")                                      \
    X(rw, recvfrom, recvfrom_udp_waits, "got: \"late\"")                                    \
    X(rw, recvfrom, recvfrom_truncated, "got: \"012\"")                                     \
    X(rw, recvfrom, recvfrom_addr, "EFAULT")                                                \
    X(rw, recvfrom, recvfrom_stream, "addrlen 0")                                           \
    X(rw, recvfrom, recvfrom_dontwait, "EAGAIN")                                            \
    /* recvmsg */                                                                           \
    RECEIVE_CASES(X, recvmsg)                                                               \
    X(rw, recvmsg, recvmsg_data, "b: \"sage\"")                                             \
    X(rw, recvmsg, recvmsg_truncated, "flags 0x20")                                         \
    X(rw, recvmsg, recvmsg_rights, "got: \"through\"")                                      \
    X(rw, recvmsg, recvmsg_rights_ctrunc, "flags 0x8")                                      \
    X(rw, recvmsg, recvmsg_waitall, "b: \"cdef\"")                                          \
    X(rw, recvmsg, recvmsg_efault, "EFAULT")                                                \
    X(rw, recvmsg, recvmsg_efault_msghdr, "EFAULT")                                         \
    /* send */                                                                              \
    SEND_CASES(X, send)                                                                     \
    X(rw, send, send_big_blocking, "= full")                                                \
    X(rw, send, send_big_peer_closes, "= partial")                                          \
    X(rw, send, send_notsock, "ENOTSOCK")                                                   \
    X(rw, send, send_data, "got: \"hello\"")                                                \
    X(rw, send, send_epipe_nosignal, "EPIPE")                                               \
    X(rw, send, send_epipe_tcp, "EPIPE")                                                    \
    X(rw, send, send_dontwait_full, "EAGAIN")                                               \
    X(rw, send, send_eintr_partial, "partial +ALRM")                                        \
    X(rw, send, send_efault, "EFAULT")                                                      \
    X(rw, send, send_zero_len_full, "returned before 200ms: yes")                           \
    /* sendto */                                                                            \
    SEND_CASES(X, sendto)                                                                   \
    X(rw, sendto, sendto_big_blocking, "= full")                                            \
    X(rw, sendto, sendto_udp, "got: \"to you\"")                                            \
    X(rw, sendto, sendto_errors, "EBADF")                                                   \
    /* sendmsg */                                                                           \
    SEND_CASES(X, sendmsg)                                                                  \
    X(rw, sendmsg, sendmsg_big_blocking, "= full")                                          \
    X(rw, sendmsg, sendmsg_big_peer_closes, "= partial")                                    \
    X(rw, sendmsg, sendmsg_data, "got: \"abcdef\"")                                         \
    X(rw, sendmsg, sendmsg_udp_name, "got: \"named\"")                                      \
    X(rw, sendmsg, sendmsg_efault, "EFAULT")                                                \
    X(rw, sendmsg, sendmsg_efault_msghdr, "EFAULT")                                         \
    X(rw, sendmsg, sendmsg_dontwait_full, "EAGAIN")                                         \
    /* sendmmsg */                                                                          \
    SEND_CASES(X, sendmmsg)                                                                 \
    X(rw, sendmmsg, mmsg_udp, "msg: \"dgram 2\"")                                           \
    X(rw, sendmmsg, sendmmsg_errors, "EBADF")                                               \
    X(rw, sendmmsg, sendmmsg_closed_while_waiting, "0) = 1")                                \
    /* recvmmsg */                                                                          \
    RECEIVE_CASES(X, recvmmsg)                                                              \
    X(rw, recvmmsg, recvmmsg_waits_for_first, "msg: \"late\"")                              \
    X(rw, recvmmsg, recvmmsg_udp_rcvtimeo, "EAGAIN")                                        \
    X(rw, recvmmsg, recvmmsg_timeout_arg, "EINVAL")                                         \
    X(rw, recvmmsg, recvmmsg_errors, "EBADF")                                               \
    X(rw, recvmmsg, recvmmsg_stream, "msg: \"def\"")                                        \
    X(rw, recvmmsg, recvmmsg_closed_while_waiting, "got: \"late\"")                         \
    X(rw, recvmmsg, recvmmsg_dup2_while_waiting, "got: \"late\"")                           \
    /* sendfile */                                                                          \
    X(rw, sendfile, sendfile_big_blocking, "= full")                                        \
    X(rw, sendfile, sendfile_errors, "EFAULT")                                              \
    X(rw, sendfile, sendfile_nonblock_full, "EAGAIN")                                       \
    X(rw, sendfile, sendfile_sndtimeo_full, "waited >=80ms: yes")                           \
    X(rw, sendfile, sendfile_eintr_full, "EINTR")                                           \
    X(rw, sendfile, sendfile_epipe, "EPIPE +PIPE")                                          \
    X(rw, sendfile, sendfile_out_closed_while_waiting, "10) = 10")                          \
    X(rw, sendfile, sendfile_in_closed_while_waiting, "10) = 10")                           \
    /* splice */                                                                            \
    X(rw, splice, splice_waits_for_data, "got: \"spliced\"")                                \
    X(rw, splice, splice_nonblock, "EAGAIN")                                                \
    X(rw, splice, splice_eintr, "EINTR")                                                    \
    X(rw, splice, splice_errors, "EINVAL")                                                  \
    X(rw, splice, splice_in_closed_while_waiting, "got: \"spliced\"")                       \
    X(rw, splice, splice_out_closed_while_waiting, "got: \"spliced\"")                      \
    X(rw, splice, splice_out_dup2_while_waiting, "got: \"spliced\"")                        \
    X(rw, splice, splice_out_close_range_while_waiting, "got: \"spliced\"")                 \
    X(rw, splice, splice_tcp_waits_for_data, "ran meanwhile: yes")                          \
    X(rw, stdio, fgets_closed_while_waiting, "fgets got: \"line\\x0a\"")                    \
    X(rw, stdio, fflush_closed_while_waiting, "fflush(fp) = 0")                             \
    X(rw, stdio, fwrite_closed_while_waiting, "fp) = 3")                                    \
    /* accept */                                                                            \
    X(fd, accept, accept_badfd, "EBADF")                                                    \
    X(fd, accept, accept_notsock, "ENOTSOCK")                                               \
    X(fd, accept, accept_not_listening, "EINVAL")                                           \
    X(fd, accept, accept_ready, "got: \"hi\"")                                              \
    X(fd, accept, accept_waits, "accepted blocking: yes")                                   \
    X(fd, accept, accept4_nonblock_flag_waits, "accepted nonblocking: yes")                 \
    X(fd, accept, accept_nonblock, "EAGAIN")                                                \
    X(fd, accept, accept_rcvtimeo, "EAGAIN")                                                \
    X(fd, accept, accept_eintr, "EINTR")                                                    \
    X(fd, accept, accept_sa_restart, "ALRMx2")                                              \
    X(fd, accept, accept4_flags, "nonblocking: yes cloexec: yes")                           \
    X(fd, accept, accept_efault, "EFAULT")                                                  \
    X(fd, accept, accept_shutdown_wakes, "EINVAL")                                          \
    X(fd, accept, accept_closed_while_waiting, "EINTR")                                     \
    X(fd, accept, accept_signal_between_waits, "ended before the fallback: yes")            \
    X(fd, accept, accept_unix_shutdown, "EINVAL")                                           \
    X(fd, accept, accept_unix_shut_wr_waits, "EINTR")                                       \
    X(fd, accept, accept_unix_shutdown_wakes, "EINVAL")                                     \
    X(fd, accept, accept_unix, "accept(l, NULL, NULL) = fd")                                \
    /* connect */                                                                           \
    X(fd, connect, connect_ok, "EISCONN")                                                   \
    X(fd, connect, connect_refused, "ECONNREFUSED")                                         \
    X(fd, connect, connect_errors, "EBADF")                                                 \
    X(fd, connect, connect_nonblock, "EINPROGRESS")                                         \
    X(fd, connect, connect_nonblock_refused, "EINPROGRESS")                                 \
    X(fd, connect, connect_sndtimeo, "EINPROGRESS")                                         \
    X(fd, connect, connect_eintr, "EINTR")                                                  \
    X(fd, connect, connect_closed_while_waiting, "EINTR")                                   \
    X(fd, connect, connect_nonblock_backlog, "EINPROGRESS")                                 \
    X(fd, connect, connect_unix_full, "EAGAIN")                                             \
    X(fd, connect, connect_unix_full_sndtimeo_restart, "EINTR")                             \
    X(fd, connect, connect_unix_full_eintr, "EINTR")                                        \
    X(fd, connect, connect_unix_full_closed_while_waiting, "len) = 0")                      \
    X(fd, connect, connect_unix_errors, "ECONNREFUSED")                                     \
    X(fd, connect, connect_udp, "got: \"udp\"")                                             \
    /* close */                                                                             \
    X(fd, close, close_errors, "EBADF")                                                     \
    X(fd, close, close_number_reused, "reused: yes")                                        \
    X(fd, close, fd_numbers_after_wait, "same numbers again: yes")                          \
    X(fd, close, close_while_reading, "got: \"after close\"")                               \
    X(fd, close, close_peer_wakes_reader, "sizeof buf) = 0")                                \
    /* dup */                                                                               \
    X(fd, dup, dup2_while_reading, "got: \"after close\"")                                  \
    X(fd, dup, dup_errors, "EBADF")                                                         \
    X(fd, dup, dup_reads, "got: \"dup\"")                                                   \
    X(fd, dup, dup2_over_open, "ENOTSOCK")                                                  \
    X(fd, dup, dup_nonblock_shared, "EAGAIN")                                               \
    X(fd, dup, dup_rcvtimeo_shared, "EAGAIN")                                               \
    /* fcntl */                                                                             \
    X(fd, fcntl, fcntl_errors, "EBADF")                                                     \
    X(fd, fcntl, fcntl_flags, "at least 30: yes cloexec: yes")                              \
    X(fd, fcntl, fcntl_flags_after_blocking_calls, "accepted 0 client 0 pipe 0")            \
    X(fd, fcntl, fcntl_nonblock_write, "EAGAIN")                                            \
    X(fd, fcntl, fcntl_nonblock_by_syscall, "EAGAIN")                                       \
    X(fd, fcntl, nonblock_unseen_by_child, "during connect: no")                            \
    /* file locks */                                                                        \
    X(fd, lock, flock_contended, "other thread ran meanwhile: yes")                         \
    X(fd, lock, fcntl_setlkw_contended, "other thread ran meanwhile: yes")                  \
    X(fd, lock, lockf_contended, "other thread ran meanwhile: yes")                         \
    /* ioctl */                                                                             \
    X(fd, ioctl, ioctl_fionbio, "EAGAIN")                                                   \
    X(fd, ioctl, ioctl_errors, "EBADF")                                                     \
    /* sockopt */                                                                           \
    X(fd, sockopt, sockopt_timeo_roundtrip, "rcvtimeo 0.2")                                 \
    X(fd, sockopt, sockopt_errors, "EINVAL")                                                \
    X(fd, sockopt, sockopt_rcvtimeo_cleared, "EAGAIN")                                      \
    X(fd, sockopt, sockopt_rcvtimeo_negative, "EAGAIN")                                     \
    X(fd, sockopt, sockopt_rcvtimeo_tiny, "EAGAIN")                                         \
    X(fd, sockopt, sockopt_rcvtimeo_by_syscall, "EAGAIN")                                   \
    /* poll */                                                                              \
    WAITING_CASES(X, poll)                                                                  \
    X(mux, poll_chk, poll_chk_timeout, "waited >=80ms: yes")                                \
    X(mux, poll_chk, poll_chk_waits, ") = 1")                                               \
    X(mux, poll_chk, poll_chk_eintr, "EINTR +ALRM")                                         \
    X(mux, poll, poll_revents, "revents[0] 0x5")                                            \
    X(mux, poll, poll_hup_nval, "revents[2] 0x20")                                          \
    X(mux, poll, poll_pipe_err, "revents[0] 0xc")                                           \
    X(mux, poll, poll_no_events_hup, "revents[0] 0x10")                                     \
    X(mux, poll, poll_pri_rdhup_idle, "cpu under 150ms: yes")                               \
    X(mux, poll, poll_closed_then_eintr, "revents[0] 0x20")                                 \
    X(mux, poll, poll_signal_between_waits, "ended before the fallback: yes")              \
    X(mux, poll, poll_close_holds_file, "revents[1] 0")                                     \
    X(mux, poll, poll_pollout_full, "waited >=40ms: yes")                                   \
    X(mux, poll, poll_no_fds, "waited >=80ms: yes")                                         \
    X(mux, poll, poll_errors, "EFAULT")                                                     \
    X(mux, poll, poll_timeout_eintr, "EINTR")                                               \
    /* ppoll */                                                                             \
    WAITING_CASES(X, ppoll)                                                                 \
    X(mux, ppoll_chk, ppoll_chk_timeout, "waited >=80ms: yes")                              \
    X(mux, ppoll_chk, ppoll_chk_waits, ") = 1")                                             \
    X(mux, ppoll_chk, ppoll_chk_eintr, "EINTR +ALRM")                                       \
    X(mux, ppoll, ppoll_errors, "EINVAL")                                                   \
    X(mux, ppoll, ppoll_mask_unblocks, "EINTR")                                             \
    X(mux, ppoll, ppoll_mask_blocks, "= 0 +ALRM")                                           \
    X(mux, ppoll, ppoll_pending_unblocked, "EINTR")                                         \
    /* select */                                                                            \
    WAITING_CASES(X, select)                                                                \
    X(mux, select, select_tv_updated, "waited >=80ms: yes")                                 \
    X(mux, select, select_tv_left, "read 1 0 write 1")                                      \
    X(mux, select, select_sleep, "tv 0.000000")                                             \
    X(mux, select, select_errors, "EINVAL")                                                 \
    X(mux, select, select_efault, "EFAULT")                                                 \
    X(mux, select, select_writable_and_except, "except server 1")                           \
    /* pselect */                                                                           \
    WAITING_CASES(X, pselect)                                                               \
    X(mux, pselect, pselect_ts_untouched, "waited >=80ms: yes")                             \
    X(mux, pselect, pselect_errors, "EINVAL")                                               \
    X(mux, pselect, pselect_mask_unblocks, "EINTR")                                         \
    /* epoll */                                                                             \
    WAITING_CASES(X, epoll_wait)                                                            \
    WAITING_CASES(X, epoll_pwait2)                                                          \
    X(mux, epoll, epoll_events, "event 0x2015")                                             \
    X(mux, epoll, epoll_errors, "EBADF")                                                    \
    X(mux, epoll, epoll_edge_oneshot, "epoll_wait(one, ev, 4, 50) = 0")                     \
    X(mux, epoll, epoll_pwait_mask_unblocks, "EINTR")                                       \
    X(mux, epoll, epoll_epfd_closed_while_waiting, "4, 2000) = 1")                          \
    /* sleep */                                                                             \
    X(time, sleep, sleep_zero, "usleep(0) = 0")                                             \
    X(time, sleep, usleep_short, "waited >=80ms: yes")                                      \
    X(time, sleep, sleep_eintr, "EINTR")                                                    \
    X(time, sleep, usleep_eintr, "EINTR")                                                   \
    X(time, sleep, nanosleep_ok, "rem untouched: yes")                                      \
    X(time, sleep, nanosleep_errors, "EINVAL")                                              \
    X(time, sleep, nanosleep_eintr, "EINTR")                                                \
    X(time, sleep, nanosleep_eintr_sa_restart, "EINTR")                                     \
    X(time, sleep, nanosleep_ignored_signal, "waited >=160ms: yes")                         \
    X(time, sleep, clock_nanosleep_relative, "rem untouched: yes")                          \
    X(time, sleep, clock_nanosleep_absolute, "returned before 500ms: yes")                  \
    X(time, sleep, clock_nanosleep_errors, "EINVAL")                                        \
    X(time, sleep, clock_nanosleep_eintr, "EINTR")                                          \
    X(time, sleep, clock_nanosleep_eintr_sa_restart, "EINTR")                               \
    /* mutex */                                                                             \
    X(thread, mutex, mutex_normal, "EBUSY")                                                 \
    X(thread, mutex, mutex_errorcheck, "EPERM")                                             \
    X(thread, mutex, mutex_recursive, "EBUSY")                                              \
    X(thread, mutex, mutex_static_initializers, "EDEADLK")                                  \
    X(thread, mutex, mutex_timedlock, "ETIMEDOUT")                                          \
    X(thread, mutex, mutex_timedlock_free, "EINVAL")                                        \
    X(thread, mutex, mutex_destroy_locked, "EBUSY")                                         \
    X(thread, mutex, mutex_contention, "count 4000")                                        \
    X(thread, mutex, mutex_robust, "EOWNERDEAD")                                            \
    /* cond */                                                                              \
    X(thread, cond, cond_timedwait, "ETIMEDOUT")                                            \
    X(thread, cond, cond_clocks, "ETIMEDOUT")                                               \
    X(thread, cond, cond_signal_broadcast, "waiter 2: 0")                                   \
    /* sem */                                                                               \
    X(thread, sem, sem_counts, "EINVAL")                                                    \
    X(thread, sem, sem_wait_posted, "sem_wait(&s) = 0")                                     \
    X(thread, sem, sem_timeouts, "ETIMEDOUT")                                               \
    X(thread, sem, sem_wait_eintr, "EINTR")                                                 \
    X(thread, sem, sem_wait_sa_restart, "ALRMx2")                                           \
    /* join */                                                                              \
    X(thread, join, join_values, "value 9")                                                 \
    X(thread, join, join_errors, "EDEADLK")                                                 \
    X(thread, join, main_pthread_exit, "thread done after main")                            \
    X(thread, join, thread_calls_exit, "exited 7")                                          \
    /* once */                                                                              \
    X(thread, once, once_runs_once, "count 1, threads saw 1 1 1 1")                         \
    X(thread, once, once_cancelled_init, "count 11")                                        \
    /* key */                                                                               \
    X(thread, key, key_values, "EINVAL")                                                    \
    X(thread, key, key_destructor_rounds, "ran 4 times")                                    \
    /* cancel */                                                                            \
    X(thread, cancel, cancel_read, "cancelled: yes")                                        \
    X(thread, cancel, cancel_recv, "cancelled: yes")                                        \
    X(thread, cancel, cancel_accept, "cancelled: yes")                                      \
    X(thread, cancel, cancel_poll, "cancelled: yes")                                        \
    X(thread, cancel, cancel_select, "cancelled: yes")                                      \
    X(thread, cancel, cancel_epoll_wait, "cancelled: yes")                                  \
    X(thread, cancel, cancel_nanosleep, "cancelled: yes")                                   \
    X(thread, cancel, cancel_sleep, "cancelled: yes")                                       \
    X(thread, cancel, cancel_cond_wait, "cancelled: yes")                                   \
    X(thread, cancel, cancel_sem_wait, "cancelled: yes")                                    \
    X(thread, cancel, cancel_join, "cancelled: yes")                                        \
    X(thread, cancel, cancel_disabled, "cancelled: yes")                                    \
    X(thread, cancel, cleanup_order, "handlers ran p321")                                   \
    X(thread, cancel, cancel_finished_thread, "value 42")                                   \
    X(thread, cancel, cancel_during_mutex_lock, "cancelled: yes")                           \
    X(thread, cancel, cancel_asynchronous, "cancelled: yes")                                \
    /* waits a signal must not interrupt */                                                 \
    X(thread, signal, signal_during_mutex_timedlock, "ETIMEDOUT +ALRM")                     \
    X(thread, signal, signal_during_cond_timedwait, "ETIMEDOUT +ALRM")                      \
    X(thread, signal, signal_during_join, "= 0 +ALRM")                                    \
    X(thread, signal, sigtimedwait_keeps_numbers, "lowest free: yes")                       \
    /* bad arguments, every family (probe_bad) */                                           \
    X(bad, bad_io, bad_fd_io, "pwrite(fd, \"x\", 1, 0) = -1 EBADF")                         \
    X(bad, bad_io, bad_fd_wrong_kind, "read(dir, buf, 4) = -1 EISDIR")                      \
    X(bad, bad_io, bad_pointers_io, "readv(s[0], NUL, 1) = -1 EFAULT")                      \
    X(bad, bad_io, bad_sizes_io, "read(refill(s), edge, size_max) = -1 EFAULT")             \
    X(bad, bad_io, bad_sizes_beyond, "sendfile(s[1], f, &off, ssize_max) = 9")              \
    X(bad, bad_io, bad_huge_timeouts_io, "recv(s[0], buf, 4, 0) = -1 EINTR +ALRM")          \
    X(bad, bad_socket, bad_fd_socket, "accept4(fd, NULL, NULL, SOCK_CLOEXEC) = -1 EBADF")   \
    X(bad, bad_socket, bad_fd_not_socket, "recv(fd, buf, 4, 0) = -1 ENOTSOCK")              \
    X(bad, bad_socket, bad_socket_state, "accept(u, NULL, NULL) = -1 EOPNOTSUPP")           \
    X(bad, bad_fd, bad_flags, "dup3(p[0], p[1], -1) = -1 EINVAL")                           \
    X(bad, bad_fd, bad_pointers_fd, "fcntl(f, F_SETLKW, BAD) = -1 EFAULT")                  \
    X(bad, bad_mux, bad_pointers_mux, "poll(NUL, 1, 0) = -1 EFAULT")                        \
    X(bad, bad_mux, bad_fd_mux, "revents[1] 0x20")                                          \
    X(bad, bad_mux, bad_select_set_sizes, "set: 1")                                         \
    X(bad, bad_mux, bad_sizes_mux, "poll(&p, 1, -5) = -1 EINTR +ALRM")                      \
    X(bad, bad_mux, bad_huge_timeouts_mux, "ppoll(&p, 1, &ts, ((void *)0)) = -1 EINTR")     \
    X(bad, bad_time, bad_huge_timeouts_time, "nanosleep(&ts, &rem) = -1 EINTR +ALRM")       \
    X(bad, bad_time, bad_timespecs_time, "nanosleep(&sec_min, &rem) = -1 EINVAL")           \
    X(bad, bad_time, bad_readonly_results, "nanosleep(&ts, BAD) = -1 EFAULT +ALRM")         \
    X(bad, bad_thread, bad_huge_timeouts_thread, "pthread_timedjoin_np(t, &v, &ts) = 0")    \
    X(bad, bad_thread, bad_timespecs_thread, "clockjoin_np(t, NULL, 1234, &sec_neg) = EINVAL") \
    X(bad, bad_thread, bad_thread_args, "pthread_barrier_init(&b, NULL, UINT_MAX) = EINVAL") \
    X(bad, bad_thread, bad_create_null_thread, "killed by SIGSEGV")                         \
    X(bad, bad_thread, bad_destroy_in_use, "returned after the waiter's time was up: yes")  \
    X(bad, bad_signal, bad_signal_args, "sigaction(sigs[i], &sa, NULL) = -1 EINVAL")        \
    X(bad, bad_signal, bad_huge_timeouts_signal, "((void *)0), &ts) = -1 EINTR +ALRM")       \
    X(bad, bad_process, bad_process_args, "waitpid(-1, &st, 0x12345) = -1 EINVAL")          \
    X(bad, bad_process, bad_popen_modes, "popen(\"exit 3\", \"er\") = stream")                \
    X(bad, bad_dns, bad_dns_args, "= EAI_NONAME")                                           \
    X(bad, bad_stdio, bad_stdio_args, "fflush(sw) = -1 EPIPE")


static const char *signal_name(int sig)
{
    static char other[16];

    switch (sig) {
    case SIGPIPE: return "SIGPIPE";
    case SIGSEGV: return "SIGSEGV";
    case SIGABRT: return "SIGABRT";
    case SIGALRM: return "SIGALRM";
    case SIGKILL: return "SIGKILL";
    case SIGBUS: return "SIGBUS";
    case SIGUSR1: return "SIGUSR1";
    }
    snprintf(other, sizeof other, "signal %d", sig);
    return other;
}

/* Run p to its end (or until limit_s from its start) and return its transcript: stdout,
 * stderr after a marker line if there is any, then how it ended.  *ended says whether it
 * ended by itself. */
static char *transcript(struct legacy *p, double limit_s, int *ended)
{
    double left = p->start + limit_s - now_s();
    char *out, *s;
    char how[64];

    *ended = legacy_finish(p, left > 0 ? left : 0);
    if (!*ended)
        snprintf(how, sizeof how, "still running after %.1f s: killed", limit_s);
    else if (WIFEXITED(p->status))
        snprintf(how, sizeof how, "exited %d", WEXITSTATUS(p->status));
    else
        snprintf(how, sizeof how, "killed by %s", signal_name(WTERMSIG(p->status)));
    out = legacy_out(p);
    s = malloc(strlen(out) + sizeof how + 8);
    cr_assert_not_null(s);
    sprintf(s, "%s--- %s\n", out, how);
    free(out);
    legacy_done(p);
    return s;
}

static void diff(const char *probe, const char *scenario, const char *must)
{
    static const struct legacy_opts plain = {.patched = 0}, patched = {.patched = 1};
    struct legacy u, p;
    char prog[32];
    char *ut, *pt;
    int u_ended, p_ended;

    snprintf(prog, sizeof prog, "probe_%s", probe);
    legacy_start(&u, &plain, prog, scenario, NULL);
    legacy_start(&p, &patched, prog, scenario, NULL);
    ut = transcript(&u, UNPATCHED_LIMIT_S, &u_ended);
    pt = transcript(&p, PATCHED_LIMIT_S, &p_ended);
    cr_assert(u_ended && strstr(ut, must),
              "%s %s: the unpatched run does not show \"%s\"; its transcript:\n%s", prog,
              scenario, must, ut);
    cr_expect(strcmp(ut, pt) == 0,
              "%s %s: unpatched and patched differ\n=== unpatched\n%s=== patched\n%s", prog,
              scenario, ut, pt);
    free(ut);
    free(pt);
}

#define DIFF_TEST(probe, family, scenario, must)                                            \
    Test(diff_##family, scenario, .timeout = 20)                                            \
    {                                                                                       \
        diff(#probe, #scenario, must);                                                      \
    }
SCENARIOS(DIFF_TEST)

#define ROW(probe, family, scenario, must) {#probe, #scenario},
static const struct {
    const char *probe, *scenario;
} table[] = {SCENARIOS(ROW)};

/* Every scenario a probe offers (probe_x --list) is in the table, and every row of the
 * table names a scenario its probe has. */
Test(diff, the_table_lists_every_probe_scenario, .timeout = 20)
{
    static const char *const probes[] = {"rw", "fd", "mux", "time", "thread", "bad"};
    enum { NPROBES = sizeof probes / sizeof *probes };
    static const struct legacy_opts plain = {.patched = 0};
    char lists[NPROBES][16384];
    size_t rows = sizeof table / sizeof *table;

    for (int i = 0; i < NPROBES; i++) {
        struct legacy p;
        char prog[32];
        snprintf(prog, sizeof prog, "probe_%s", probes[i]);
        legacy_start(&p, &plain, prog, "--list", NULL);
        cr_assert(legacy_finish(&p, 5.0) && WIFEXITED(p.status) && !WEXITSTATUS(p.status),
                  "%s --list failed", prog);
        lists[i][0] = '\n';
        legacy_read(p.out, lists[i] + 1, sizeof lists[i] - 1);
        legacy_done(&p);
        for (char *name = strtok(lists[i] + 1, "\n"); name; name = strtok(NULL, "\n")) {
            size_t r = 0;
            while (r < rows &&
                   (strcmp(table[r].scenario, name) || strcmp(table[r].probe, probes[i])))
                r++;
            cr_expect(r < rows, "%s has scenario %s, which the table does not list", prog,
                      name);
            name[strlen(name)] = '\n'; /* undo strtok, for the search below */
        }
    }
    for (size_t r = 0; r < rows; r++) {
        char needle[128];
        int i = 0;
        while (i < NPROBES && strcmp(probes[i], table[r].probe))
            i++;
        cr_assert(i < NPROBES, "the table names an unknown probe %s", table[r].probe);
        snprintf(needle, sizeof needle, "\n%s\n", table[r].scenario);
        cr_expect(strstr(lists[i], needle), "probe_%s has no scenario %s", table[r].probe,
                  table[r].scenario);
    }
}
