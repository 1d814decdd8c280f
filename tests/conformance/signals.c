/* Signals in one process: rt_sigaction, rt_sigprocmask, rt_sigpending, rt_sigsuspend,
 * rt_sigtimedwait, sigaltstack, kill/tgkill/tkill to itself, raise, SA_RESTART/EINTR,
 * SIG_IGN. (Default "terminate" actions end the process, so they are not tested here.) */
#include "harness.h"
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/time.h>
#include <time.h>

static volatile sig_atomic_t hits, last_sig, last_code, on_alt;
static volatile long last_value;
static char *alt_base;
static size_t alt_size;

static void handler(int s)
{
	hits++;
	last_sig = s;
}

static void info_handler(int s, siginfo_t *si, void *uc)
{
	(void)uc;
	hits++;
	last_sig = s;
	last_code = si->si_code;
	last_value = si->si_value.sival_int;
	char here;
	on_alt = alt_base && &here >= alt_base && &here < alt_base + alt_size;
}

static void nested_handler(int s)
{
	/* The signal being handled is blocked during its handler (no SA_NODEFER). */
	sigset_t cur;
	sigprocmask(SIG_SETMASK, NULL, &cur);
	last_code = sigismember(&cur, s);
	hits++;
}

static void sigaction_cases(void)
{
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	TEST_RES(sigaction(SIGUSR1, &sa, NULL), 0);
	TEST_RES(sigaction(SIGUSR1, NULL, &old), 0);
	TEST_TRUE(old.sa_handler == handler);
	hits = 0;
	TEST_RES(raise(SIGUSR1), 0);
	TEST_RES(hits, 1);
	TEST_RES(last_sig, SIGUSR1);
	TEST_RES(kill(getpid(), SIGUSR1), 0);
	TEST_RES(hits, 2);
	TEST_RES(syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGUSR1), 0);
	TEST_RES(hits, 3);
	TEST_RES(syscall(SYS_tkill, syscall(SYS_gettid), SIGUSR1), 0);
	TEST_RES(hits, 4);
	TEST_RES(kill(getpid(), 0), 0); /* signal 0: only a check */
	TEST_RES(hits, 4);
	/* SA_SIGINFO handler gets the sender's code. */
	sa.sa_sigaction = info_handler;
	sa.sa_flags = SA_SIGINFO;
	TEST_RES(sigaction(SIGUSR2, &sa, NULL), 0);
	TEST_RES(kill(getpid(), SIGUSR2), 0);
	TEST_RES(last_sig, SIGUSR2);
	TEST_RES(last_code, SI_USER);
	TEST_RES(raise(SIGUSR2), 0);
	TEST_RES(last_code, SI_TKILL);
	union sigval v = {.sival_int = 77};
	TEST_RES(sigqueue(getpid(), SIGUSR2, v), 0);
	TEST_RES(last_code, SI_QUEUE);
	TEST_RES(last_value, 77);
	/* The handled signal is blocked inside its handler. */
	sa.sa_handler = nested_handler;
	sa.sa_flags = 0;
	sigaction(SIGUSR1, &sa, NULL);
	last_code = -1;
	raise(SIGUSR1);
	TEST_RES(last_code, 1);
	sa.sa_flags = SA_NODEFER;
	sigaction(SIGUSR1, &sa, NULL);
	raise(SIGUSR1);
	TEST_RES(last_code, 0);
	/* SA_RESETHAND: one shot, then back to default. */
	sa.sa_handler = handler;
	sa.sa_flags = SA_RESETHAND;
	sigaction(SIGUSR1, &sa, NULL);
	raise(SIGUSR1);
	TEST_RES(sigaction(SIGUSR1, NULL, &old), 0);
	TEST_TRUE(old.sa_handler == SIG_DFL);
	/* SIG_IGN: nothing happens. */
	signal(SIGUSR1, SIG_IGN);
	hits = 0;
	TEST_RES(raise(SIGUSR1), 0);
	TEST_RES(hits, 0);
	/* Default action "ignore" (SIGCHLD, SIGURG, SIGWINCH). */
	signal(SIGCHLD, SIG_DFL);
	TEST_RES(raise(SIGCHLD), 0);
	TEST_RES(raise(SIGWINCH), 0);
	/* Errors. */
	TEST_ERRNO(sigaction(SIGKILL, &sa, NULL), EINVAL);
	TEST_ERRNO(sigaction(SIGSTOP, &sa, NULL), EINVAL);
	TEST_ERRNO(sigaction(0, &sa, NULL), EINVAL);
	TEST_ERRNO(sigaction(65, &sa, NULL), EINVAL);
	TEST_ERRNO(syscall(SYS_rt_sigaction, SIGUSR1, (void *)1, NULL, 8), EFAULT);
	TEST_ERRNO(syscall(SYS_rt_sigaction, SIGUSR1, NULL, NULL, 4), EINVAL);
	TEST_ERRNO(kill(getpid(), 65), EINVAL);
	TEST_ERRNO(raise(-1), EINVAL);
	TEST_ERRNO(syscall(SYS_tgkill, getpid(), 999999, SIGUSR1), ESRCH);
	TEST_ERRNO(syscall(SYS_tkill, -1, SIGUSR1), EINVAL);
	TEST_RES(sigaction(SIGKILL, NULL, &old), 0); /* reading is fine */
	signal(SIGUSR1, SIG_DFL);
	signal(SIGUSR2, SIG_DFL);
}

static void mask_pending(void)
{
	sigset_t set, old, pend;
	signal(SIGUSR1, handler);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	TEST_RES(sigprocmask(SIG_BLOCK, &set, &old), 0);
	TEST_TRUE(!sigismember(&old, SIGUSR1));
	hits = 0;
	TEST_RES(raise(SIGUSR1), 0);
	TEST_RES(hits, 0);
	TEST_RES(sigpending(&pend), 0);
	TEST_TRUE(sigismember(&pend, SIGUSR1));
	/* Standard signals do not queue: two raises, one delivery. */
	raise(SIGUSR1);
	TEST_RES(sigprocmask(SIG_UNBLOCK, &set, NULL), 0);
	TEST_RES(hits, 1);
	TEST_RES(sigpending(&pend), 0);
	TEST_TRUE(!sigismember(&pend, SIGUSR1));
	/* Real-time signals do queue. */
	signal(SIGRTMIN, handler);
	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN);
	sigprocmask(SIG_BLOCK, &set, NULL);
	hits = 0;
	raise(SIGRTMIN);
	raise(SIGRTMIN);
	raise(SIGRTMIN);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	TEST_RES(hits, 3);
	/* SIG_SETMASK and reading back; SIGKILL/SIGSTOP cannot be blocked. */
	sigfillset(&set);
	TEST_RES(sigprocmask(SIG_SETMASK, &set, NULL), 0);
	TEST_RES(sigprocmask(SIG_SETMASK, NULL, &old), 0);
	TEST_TRUE(!sigismember(&old, SIGKILL) && !sigismember(&old, SIGSTOP));
	TEST_TRUE(sigismember(&old, SIGUSR2));
	sigemptyset(&set);
	TEST_RES(sigprocmask(SIG_SETMASK, &set, NULL), 0);
	TEST_ERRNO(sigprocmask(99, &set, NULL), EINVAL);
	TEST_ERRNO(syscall(SYS_rt_sigprocmask, SIG_BLOCK, &set, NULL, 4), EINVAL);
	TEST_ERRNO(syscall(SYS_rt_sigprocmask, SIG_BLOCK, (void *)1, NULL, 8), EFAULT);
	TEST_ERRNO(syscall(SYS_rt_sigpending, (void *)1, 8), EFAULT);
	/* pthread_sigmask is the per-thread form. */
	sigaddset(&set, SIGUSR2);
	TEST_RES(pthread_sigmask(SIG_BLOCK, &set, NULL), 0);
	TEST_RES(pthread_sigmask(SIG_SETMASK, NULL, &old), 0);
	TEST_TRUE(sigismember(&old, SIGUSR2));
	TEST_RES(pthread_sigmask(SIG_UNBLOCK, &set, NULL), 0);
	signal(SIGUSR1, SIG_DFL);
	signal(SIGRTMIN, SIG_DFL);
}

static void suspend_wait(void)
{
	sigset_t set, empty, pend;
	siginfo_t si;
	struct timespec ts;
	signal(SIGUSR1, handler);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigemptyset(&empty);
	sigprocmask(SIG_BLOCK, &set, NULL);
	raise(SIGUSR1);
	hits = 0;
	/* sigsuspend returns -1/EINTR after the handler ran; the old mask comes back. */
	TEST_ERRNO(sigsuspend(&empty), EINTR);
	TEST_RES(hits, 1);
	sigset_t cur;
	sigprocmask(SIG_SETMASK, NULL, &cur);
	TEST_TRUE(sigismember(&cur, SIGUSR1));
	/* sigtimedwait takes a pending signal without running the handler. */
	raise(SIGUSR1);
	hits = 0;
	ts.tv_sec = 1;
	ts.tv_nsec = 0;
	TEST_RES(sigtimedwait(&set, &si, &ts), SIGUSR1);
	TEST_RES(si.si_signo, SIGUSR1);
	TEST_RES(si.si_code, SI_TKILL);
	TEST_RES(hits, 0);
	TEST_RES(sigpending(&pend), 0);
	TEST_TRUE(!sigismember(&pend, SIGUSR1));
	/* Nothing pending: times out with EAGAIN. */
	ts.tv_sec = 0;
	ts.tv_nsec = 20000000;
	TEST_ERRNO(sigtimedwait(&set, &si, &ts), EAGAIN);
	ts.tv_nsec = 0;
	TEST_ERRNO(sigtimedwait(&set, &si, &ts), EAGAIN); /* a poll */
	ts.tv_nsec = 2000000000;
	TEST_ERRNO(sigtimedwait(&set, &si, &ts), EINVAL);
	/* sigwait / sigwaitinfo. */
	raise(SIGUSR1);
	int sig = 0;
	TEST_RES(sigwait(&set, &sig), 0);
	TEST_RES(sig, SIGUSR1);
	raise(SIGUSR1);
	TEST_RES(sigwaitinfo(&set, &si), SIGUSR1);
	/* An unblocked signal that arrives while waiting for another interrupts the wait. */
	signal(SIGALRM, handler);
	struct itimerval it = {.it_value = {.tv_usec = 20000}};
	setitimer(ITIMER_REAL, &it, NULL);
	ts.tv_sec = 2;
	ts.tv_nsec = 0;
	hits = 0;
	/* (libc's sigtimedwait retries on EINTR; the system call itself reports it) */
	TEST_ERRNO(syscall(SYS_rt_sigtimedwait, &set, &si, &ts, 8), EINTR);
	TEST_RES(hits, 1);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	signal(SIGUSR1, SIG_DFL);
	signal(SIGALRM, SIG_DFL);
}

static void altstack(void)
{
	stack_t ss, old;
	alt_size = 64 * 1024;
	alt_base = malloc(alt_size);
	REQUIRE(alt_base != NULL);
	ss.ss_sp = alt_base;
	ss.ss_size = alt_size;
	ss.ss_flags = 0;
	TEST_RES(sigaltstack(&ss, &old), 0);
	TEST_RES(old.ss_flags, SS_DISABLE);
	TEST_RES(sigaltstack(NULL, &old), 0);
	TEST_TRUE(old.ss_sp == alt_base && old.ss_size == alt_size && old.ss_flags == 0);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = info_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigaction(SIGUSR1, &sa, NULL);
	on_alt = 0;
	raise(SIGUSR1);
	TEST_RES(on_alt, 1);
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGUSR1, &sa, NULL);
	raise(SIGUSR1);
	TEST_RES(on_alt, 0);
	ss.ss_size = 100;
	TEST_ERRNO(sigaltstack(&ss, NULL), ENOMEM);
	ss.ss_size = alt_size;
	ss.ss_flags = 0x1234;
	TEST_ERRNO(sigaltstack(&ss, NULL), EINVAL);
	TEST_ERRNO(syscall(SYS_sigaltstack, (void *)1, NULL), EFAULT);
	ss.ss_flags = SS_DISABLE;
	TEST_RES(sigaltstack(&ss, NULL), 0);
	TEST_RES(sigaltstack(NULL, &old), 0);
	TEST_RES(old.ss_flags, SS_DISABLE);
	signal(SIGUSR1, SIG_DFL);
	free(alt_base);
	alt_base = NULL;
}

static void restart_cases(void)
{
	/* A handler installed without SA_RESTART interrupts nanosleep (which is never
	 * restarted) and reports the time left. */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = handler;
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = {.it_value = {.tv_usec = 20000}};
	setitimer(ITIMER_REAL, &it, NULL);
	struct timespec req = {2, 0}, rem = {0, 0};
	hits = 0;
	TEST_ERRNO(nanosleep(&req, &rem), EINTR);
	TEST_RES(hits, 1);
	TEST_TRUE(rem.tv_sec >= 1 && rem.tv_sec <= 2);
	/* pause() always returns EINTR once a handler ran. */
	setitimer(ITIMER_REAL, &it, NULL);
	TEST_ERRNO(pause(), EINTR);
	signal(SIGALRM, SIG_DFL);
}

static pthread_t main_thread;
static void *signal_main(void *arg)
{
	usleep(20000);
	return (void *)(long)pthread_kill(main_thread, SIGUSR1) + (long)arg;
}

static volatile sig_atomic_t thread_hit;
static void thread_handler(int s)
{
	(void)s;
	thread_hit = (pthread_self() != main_thread) ? 2 : 1;
}

static void *wait_for_kill(void *arg)
{
	(void)arg;
	for (int i = 0; i < 500 && !thread_hit; i++)
		usleep(2000);
	return NULL;
}

static void thread_signals(void)
{
	pthread_t t;
	void *ret;
	signal(SIGUSR1, handler);
	main_thread = pthread_self();
	hits = 0;
	REQUIRE(pthread_create(&t, NULL, signal_main, NULL) == 0);
	struct timespec req = {2, 0};
	TEST_ERRNO(nanosleep(&req, NULL), EINTR); /* the thread's pthread_kill interrupts */
	TEST_RES(hits, 1);
	TEST_RES(pthread_join(t, &ret), 0);
	TEST_RES(ret, 0);
	/* pthread_kill to another thread runs the handler there. */
	signal(SIGUSR1, thread_handler);
	thread_hit = 0;
	REQUIRE(pthread_create(&t, NULL, wait_for_kill, NULL) == 0);
	TEST_RES(pthread_kill(t, SIGUSR1), 0);
	pthread_join(t, NULL);
	TEST_RES(thread_hit, 2);
	TEST_RES(pthread_kill(pthread_self(), 0), 0);
	signal(SIGUSR1, SIG_DFL);
}

int main(void)
{
	ukt_setup();
	RUN(sigaction_cases);
	RUN(mask_pending);
	RUN(suspend_wait);
	RUN(altstack);
	RUN(restart_cases);
	RUN(thread_signals);
	return ukt_finish();
}
