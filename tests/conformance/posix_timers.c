/* POSIX timers: timer_create (SIGEV_SIGNAL, SIGEV_NONE, SIGEV_THREAD through musl's
 * helper thread, SIGEV_THREAD_ID), timer_settime (relative, TIMER_ABSTIME, periodic),
 * timer_gettime, timer_getoverrun and si_overrun, timer_delete; a timer's signal
 * reaching a thread that computes without system calls. */
#include "harness.h"
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>

#define SIG_A (SIGRTMIN + 2)

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

static void block(int sig)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, sig);
	sigprocmask(SIG_BLOCK, &s, NULL);
}

static void unblock(int sig)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, sig);
	sigprocmask(SIG_UNBLOCK, &s, NULL);
}

static int wait_sig(int sig, siginfo_t *si, long ms)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, sig);
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	return sigtimedwait(&s, si, &ts);
}

static struct itimerspec its(long value_ms, long interval_ms)
{
	struct itimerspec it;
	it.it_value.tv_sec = value_ms / 1000;
	it.it_value.tv_nsec = (value_ms % 1000) * 1000000L;
	it.it_interval.tv_sec = interval_ms / 1000;
	it.it_interval.tv_nsec = (interval_ms % 1000) * 1000000L;
	return it;
}

static int marker;

static void signal_cases(void)
{
	timer_t t;
	struct sigevent ev;
	siginfo_t si;
	struct itimerspec it = its(20, 0), cur;
	memset(&ev, 0, sizeof ev);
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = SIG_A;
	ev.sigev_value.sival_ptr = &marker;
	block(SIG_A);
	TEST_RES(timer_create(CLOCK_MONOTONIC, &ev, &t), 0);
	TEST_RES(timer_gettime(t, &cur), 0);
	TEST_RES(cur.it_value.tv_sec | cur.it_value.tv_nsec, 0);
	long t0 = now_ms();
	TEST_RES(timer_settime(t, 0, &it, NULL), 0);
	TEST_RES(timer_gettime(t, &cur), 0);
	TEST_TRUE(cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 &&
		  cur.it_value.tv_nsec <= 20000000);
	TEST_RES(wait_sig(SIG_A, &si, 2000), SIG_A);
	TEST_TRUE(now_ms() - t0 >= 19);
	TEST_RES(si.si_code, SI_TIMER);
	TEST_TRUE(si.si_value.sival_ptr == &marker); /* all 64 bits of the value */
	TEST_RES(si.si_overrun, 0);
	/* A one-shot timer is disarmed after it fired. */
	TEST_RES(timer_gettime(t, &cur), 0);
	TEST_RES(cur.it_value.tv_sec | cur.it_value.tv_nsec, 0);
	/* Periodic, while the signal stays blocked: one instance, the rest overruns. */
	it = its(5, 5);
	TEST_RES(timer_settime(t, 0, &it, NULL), 0);
	usleep(80000);
	TEST_RES(wait_sig(SIG_A, &si, 2000), SIG_A);
	TEST_TRUE(si.si_overrun >= 8 && si.si_overrun <= 16);
	TEST_RES(timer_getoverrun(t), si.si_overrun);
	/* Only one instance was pending although the signal is real-time. */
	it = its(0, 0);
	TEST_RES(timer_settime(t, 0, &it, &cur), 0);
	TEST_TRUE(cur.it_interval.tv_sec == 0 && cur.it_interval.tv_nsec == 5000000);
	TEST_ERRNO(wait_sig(SIG_A, &si, 0), EAGAIN);
	TEST_RES(timer_delete(t), 0);
	unblock(SIG_A);
}

static void abstime_cases(void)
{
	timer_t t;
	struct sigevent ev;
	siginfo_t si;
	memset(&ev, 0, sizeof ev);
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = SIG_A;
	ev.sigev_value.sival_int = 1234;
	block(SIG_A);
	TEST_RES(timer_create(CLOCK_REALTIME, &ev, &t), 0);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	struct itimerspec it = its(0, 0);
	it.it_value = now;
	it.it_value.tv_nsec += 30000000;
	if (it.it_value.tv_nsec >= 1000000000) {
		it.it_value.tv_sec++;
		it.it_value.tv_nsec -= 1000000000;
	}
	long t0 = now_ms();
	TEST_RES(timer_settime(t, TIMER_ABSTIME, &it, NULL), 0);
	TEST_RES(wait_sig(SIG_A, &si, 2000), SIG_A);
	TEST_TRUE(now_ms() - t0 >= 25);
	TEST_RES(si.si_value.sival_int, 1234);
	/* An absolute time in the past expires at once. */
	it.it_value.tv_sec -= 10;
	TEST_RES(timer_settime(t, TIMER_ABSTIME, &it, NULL), 0);
	TEST_RES(wait_sig(SIG_A, &si, 2000), SIG_A);
	TEST_RES(timer_delete(t), 0);
	unblock(SIG_A);
}

static void none_and_error_cases(void)
{
	timer_t t;
	struct sigevent ev;
	struct itimerspec it = its(5000, 0), cur;
	memset(&ev, 0, sizeof ev);
	ev.sigev_notify = SIGEV_NONE;
	TEST_RES(timer_create(CLOCK_MONOTONIC, &ev, &t), 0);
	TEST_RES(timer_settime(t, 0, &it, NULL), 0);
	TEST_RES(timer_gettime(t, &cur), 0);
	TEST_TRUE(cur.it_value.tv_sec == 4 || cur.it_value.tv_sec == 5);
	TEST_RES(timer_getoverrun(t), 0);
	it.it_value.tv_nsec = 1000000000;
	TEST_ERRNO(timer_settime(t, 0, &it, NULL), EINVAL);
	it.it_value.tv_nsec = 0;
	TEST_RES(timer_settime(t, 0x10, &it, NULL), 0); /* unknown flags are ignored */
	TEST_RES(timer_delete(t), 0);
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = 0;
	TEST_ERRNO(timer_create(CLOCK_MONOTONIC, &ev, &t), EINVAL);
	ev.sigev_signo = 65;
	TEST_ERRNO(timer_create(CLOCK_MONOTONIC, &ev, &t), EINVAL);
	ev.sigev_signo = SIGUSR1;
	ev.sigev_notify = 99;
	TEST_ERRNO(timer_create(CLOCK_MONOTONIC, &ev, &t), EINVAL);
	ev.sigev_notify = SIGEV_SIGNAL;
	TEST_ERRNO(timer_create(12345, &ev, &t), EINVAL);
	/* The raw call with a bad place for the id: EFAULT. */
	TEST_ERRNO(syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, (void *)8), EFAULT);
	/* The timer of a raw id that was never made: EINVAL. */
	TEST_ERRNO(syscall(SYS_timer_delete, 4000), EINVAL);
	TEST_ERRNO(syscall(SYS_timer_getoverrun, 4000), EINVAL);
	/* NULL sigevent: SIGALRM with the timer's id as the value. */
	int kid = -1;
	TEST_RES(syscall(SYS_timer_create, CLOCK_MONOTONIC, NULL, &kid), 0);
	TEST_TRUE(kid >= 0);
	siginfo_t si;
	block(SIGALRM);
	struct itimerspec one = its(5, 0);
	TEST_RES(syscall(SYS_timer_settime, kid, 0, &one, NULL), 0);
	TEST_RES(wait_sig(SIGALRM, &si, 2000), SIGALRM);
	TEST_RES(si.si_value.sival_int, kid);
	TEST_RES(si.si_code, SI_TIMER);
	TEST_RES(syscall(SYS_timer_delete, kid), 0);
	unblock(SIGALRM);
}

/* SIGEV_THREAD: musl runs the function on a helper thread that waits for the timer's
 * signal (a SIGEV_THREAD_ID timer underneath). */
static sem_t fired_sem;
static volatile int thread_calls, thread_value;
static void on_thread_timer(union sigval v)
{
	thread_value = v.sival_int;
	thread_calls++;
	sem_post(&fired_sem);
}

static void thread_cases(void)
{
	timer_t t;
	struct sigevent ev;
	memset(&ev, 0, sizeof ev);
	ev.sigev_notify = SIGEV_THREAD;
	ev.sigev_notify_function = on_thread_timer;
	ev.sigev_value.sival_int = 99;
	sem_init(&fired_sem, 0, 0);
	TEST_RES(timer_create(CLOCK_MONOTONIC, &ev, &t), 0);
	struct itimerspec it = its(10, 10);
	TEST_RES(timer_settime(t, 0, &it, NULL), 0);
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 3;
	TEST_RES(sem_timedwait(&fired_sem, &dl), 0);
	TEST_RES(sem_timedwait(&fired_sem, &dl), 0);
	TEST_RES(sem_timedwait(&fired_sem, &dl), 0);
	TEST_TRUE(thread_calls >= 3);
	TEST_RES(thread_value, 99);
	TEST_RES(timer_delete(t), 0);
}

/* SIGEV_THREAD_ID: to one named thread. */
static volatile pid_t got_tid;
static void tid_handler(int s, siginfo_t *si, void *uc)
{
	(void)s;
	(void)si;
	(void)uc;
	got_tid = syscall(SYS_gettid);
}

static sem_t worker_ready, worker_done;
static volatile pid_t worker_tid;
static void *worker(void *arg)
{
	(void)arg;
	worker_tid = syscall(SYS_gettid);
	sem_post(&worker_ready);
	sem_wait(&worker_done);
	return NULL;
}

static void thread_id_cases(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = tid_handler;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIG_A, &sa, NULL);
	sem_init(&worker_ready, 0, 0);
	sem_init(&worker_done, 0, 0);
	pthread_t th;
	pthread_create(&th, NULL, worker, NULL);
	sem_wait(&worker_ready);
	struct sigevent ev;
	memset(&ev, 0, sizeof ev);
	ev.sigev_notify = SIGEV_THREAD_ID;
	ev.sigev_signo = SIG_A;
	ev.sigev_notify_thread_id = worker_tid;
	timer_t t;
	/* The main thread blocks the signal: only the worker can take it anyway. */
	block(SIG_A);
	got_tid = 0;
	TEST_RES(timer_create(CLOCK_MONOTONIC, &ev, &t), 0);
	struct itimerspec it = its(10, 0);
	TEST_RES(timer_settime(t, 0, &it, NULL), 0);
	long t0 = now_ms();
	while (!got_tid && now_ms() - t0 < 3000)
		usleep(1000);
	TEST_RES(got_tid, worker_tid);
	TEST_RES(timer_delete(t), 0);
	sem_post(&worker_done);
	pthread_join(th, NULL);
	/* A thread id that is not one of ours: EINVAL. */
	ev.sigev_notify_thread_id = 0x7ffffff0;
	TEST_ERRNO(timer_create(CLOCK_MONOTONIC, &ev, &t), EINVAL);
	unblock(SIG_A);
	signal(SIG_A, SIG_DFL);
}

/* A periodic timer's handler runs while the thread computes without system calls. */
static volatile sig_atomic_t ticks;
static void tick(int s)
{
	(void)s;
	ticks++;
}

static void busy_cases(void)
{
	signal(SIG_A, tick);
	timer_t t;
	struct sigevent ev;
	memset(&ev, 0, sizeof ev);
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = SIG_A;
	TEST_RES(timer_create(CLOCK_MONOTONIC, &ev, &t), 0);
	struct itimerspec it = its(20, 20);
	ticks = 0;
	TEST_RES(timer_settime(t, 0, &it, NULL), 0);
	/* Spin on the clock through the vDSO path (no system call on Linux) until five
	 * ticks arrived, for at most 5 s. */
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	volatile unsigned long spins = 0;
	do {
		for (int i = 0; i < 100000; i++)
			spins++;
		clock_gettime(CLOCK_MONOTONIC, &b);
	} while (ticks < 5 && b.tv_sec - a.tv_sec < 5);
	TEST_TRUE(ticks >= 5);
	TEST_RES(timer_delete(t), 0);
	signal(SIG_A, SIG_DFL);
}

/* CLOCK_PROCESS_CPUTIME_ID: expires after that much CPU time. */
static void cpu_clock_cases(void)
{
	timer_t t;
	struct sigevent ev;
	siginfo_t si;
	memset(&ev, 0, sizeof ev);
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = SIG_A;
	block(SIG_A);
	TEST_RES(timer_create(CLOCK_PROCESS_CPUTIME_ID, &ev, &t), 0);
	struct itimerspec it = its(50, 0);
	TEST_RES(timer_settime(t, 0, &it, NULL), 0);
	/* Sleeping uses no CPU: nothing yet. */
	usleep(100000);
	TEST_ERRNO(wait_sig(SIG_A, &si, 0), EAGAIN);
	/* Computing does. */
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	volatile unsigned long spins = 0;
	sigset_t pend;
	do {
		for (int i = 0; i < 100000; i++)
			spins++;
		sigpending(&pend);
		clock_gettime(CLOCK_MONOTONIC, &b);
	} while (!sigismember(&pend, SIG_A) && b.tv_sec - a.tv_sec < 5);
	TEST_RES(wait_sig(SIG_A, &si, 0), SIG_A);
	TEST_RES(timer_delete(t), 0);
	unblock(SIG_A);
}

int main(void)
{
	ukt_setup();
	RUN(signal_cases);
	RUN(abstime_cases);
	RUN(none_and_error_cases);
	RUN(thread_cases);
	RUN(thread_id_cases);
	RUN(busy_cases);
	RUN(cpu_clock_cases);
	return ukt_finish();
}
