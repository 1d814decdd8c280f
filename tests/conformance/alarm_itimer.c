/* alarm, setitimer/getitimer (ITIMER_REAL), and the sleeps they interrupt:
 * nanosleep, clock_nanosleep, clock_gettime/clock_getres. */
#include "harness.h"
#include <signal.h>
#include <sys/time.h>
#include <time.h>

static volatile sig_atomic_t alarms;
static void on_alarm(int s)
{
	(void)s;
	alarms++;
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

static void alarm_cases(void)
{
	signal(SIGALRM, on_alarm);
	TEST_RES(alarm(0), 0);
	TEST_RES(alarm(10), 0);
	TEST_TRUE(alarm(5) >= 9); /* the previous one's seconds left */
	TEST_TRUE(alarm(0) >= 4); /* cancelled */
	alarms = 0;
	long t0 = now_ms();
	TEST_RES(alarm(1), 0);
	TEST_ERRNO(pause(), EINTR);
	TEST_RES(alarms, 1);
	TEST_TRUE(now_ms() - t0 >= 900);
	TEST_RES(alarm(0), 0); /* nothing left */
	signal(SIGALRM, SIG_DFL);
}

static void itimer_cases(void)
{
	struct itimerval it, old;
	signal(SIGALRM, on_alarm);
	memset(&it, 0, sizeof it);
	TEST_RES(getitimer(ITIMER_REAL, &old), 0);
	TEST_RES(old.it_value.tv_sec | old.it_value.tv_usec, 0);
	it.it_value.tv_sec = 5;
	TEST_RES(setitimer(ITIMER_REAL, &it, NULL), 0);
	TEST_RES(getitimer(ITIMER_REAL, &old), 0);
	TEST_TRUE(old.it_value.tv_sec >= 4 && old.it_value.tv_sec <= 5);
	/* alarm and ITIMER_REAL are the same timer. */
	TEST_TRUE(alarm(0) >= 4);
	TEST_RES(getitimer(ITIMER_REAL, &old), 0);
	TEST_RES(old.it_value.tv_sec | old.it_value.tv_usec, 0);
	/* A periodic timer: several expirations. */
	it.it_value.tv_sec = 0;
	it.it_value.tv_usec = 10000;
	it.it_interval.tv_usec = 10000;
	alarms = 0;
	TEST_RES(setitimer(ITIMER_REAL, &it, NULL), 0);
	long t0 = now_ms();
	while (alarms < 5 && now_ms() - t0 < 3000)
		pause();
	TEST_RES(alarms, 5);
	TEST_RES(getitimer(ITIMER_REAL, &old), 0);
	TEST_RES(old.it_interval.tv_usec, 10000);
	memset(&it, 0, sizeof it);
	TEST_RES(setitimer(ITIMER_REAL, &it, &old), 0);
	TEST_RES(old.it_interval.tv_usec, 10000);
	it.it_value.tv_usec = 2000000;
	TEST_ERRNO(setitimer(ITIMER_REAL, &it, NULL), EINVAL);
	TEST_ERRNO(setitimer(99, &it, NULL), EINVAL);
	TEST_ERRNO(getitimer(99, &old), EINVAL);
	TEST_ERRNO(syscall(SYS_getitimer, ITIMER_REAL, (void *)1), EFAULT);
	signal(SIGALRM, SIG_DFL);
}

static void sleep_cases(void)
{
	struct timespec req, rem;
	long t0 = now_ms();
	req.tv_sec = 0;
	req.tv_nsec = 30000000;
	TEST_RES(nanosleep(&req, &rem), 0);
	TEST_TRUE(now_ms() - t0 >= 29);
	req.tv_nsec = 1000000000;
	TEST_ERRNO(nanosleep(&req, NULL), EINVAL);
	req.tv_sec = -1;
	req.tv_nsec = 0;
	TEST_ERRNO(nanosleep(&req, NULL), EINVAL);
	TEST_ERRNO(syscall(SYS_nanosleep, (void *)1, NULL), EFAULT);
	/* clock_nanosleep returns the error instead of setting errno. */
	req.tv_sec = 0;
	req.tv_nsec = 10000000;
	TEST_RES(clock_nanosleep(CLOCK_MONOTONIC, 0, &req, NULL), 0);
	struct timespec abs;
	clock_gettime(CLOCK_MONOTONIC, &abs);
	abs.tv_nsec += 20000000;
	if (abs.tv_nsec >= 1000000000) {
		abs.tv_sec++;
		abs.tv_nsec -= 1000000000;
	}
	TEST_RES(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, NULL), 0);
	struct timespec after;
	clock_gettime(CLOCK_MONOTONIC, &after);
	TEST_TRUE(after.tv_sec > abs.tv_sec || (after.tv_sec == abs.tv_sec && after.tv_nsec >= abs.tv_nsec));
	TEST_RES(clock_nanosleep(12345, 0, &req, NULL), EINVAL);
	req.tv_nsec = -1;
	TEST_RES(clock_nanosleep(CLOCK_MONOTONIC, 0, &req, NULL), EINVAL);
	/* Interrupted clock_nanosleep: EINTR as the result, with the time left. */
	signal(SIGALRM, on_alarm);
	struct itimerval it = {.it_value = {.tv_usec = 20000}};
	setitimer(ITIMER_REAL, &it, NULL);
	req.tv_sec = 2;
	req.tv_nsec = 0;
	TEST_RES(clock_nanosleep(CLOCK_REALTIME, 0, &req, &rem), EINTR);
	TEST_TRUE(rem.tv_sec >= 1);
	signal(SIGALRM, SIG_DFL);
	TEST_RES(usleep(1000), 0);
	TEST_RES(sleep(0), 0);
}

static void clock_cases(void)
{
	struct timespec a, b, res;
	TEST_RES(clock_gettime(CLOCK_MONOTONIC, &a), 0);
	TEST_RES(clock_gettime(CLOCK_MONOTONIC, &b), 0);
	TEST_TRUE(b.tv_sec > a.tv_sec || (b.tv_sec == a.tv_sec && b.tv_nsec >= a.tv_nsec));
	TEST_RES(clock_gettime(CLOCK_REALTIME, &a), 0);
	TEST_TRUE(a.tv_sec > 1600000000); /* after 2020 */
	TEST_RES(clock_gettime(CLOCK_BOOTTIME, &a), 0);
	TEST_RES(clock_gettime(CLOCK_MONOTONIC_COARSE, &a), 0);
	TEST_RES(clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a), 0);
	TEST_RES(clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a), 0);
	TEST_RES(clock_getres(CLOCK_MONOTONIC, &res), 0);
	TEST_TRUE(res.tv_sec == 0 && res.tv_nsec > 0 && res.tv_nsec <= 10000000);
	TEST_ERRNO(clock_gettime(12345, &a), EINVAL);
	TEST_ERRNO(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, (void *)1), EFAULT);
	struct timeval tv;
	TEST_RES(gettimeofday(&tv, NULL), 0);
	TEST_TRUE(tv.tv_sec > 1600000000 && tv.tv_usec < 1000000);
	time_t t = time(NULL);
	TEST_TRUE(t >= tv.tv_sec && t <= tv.tv_sec + 2);
}

int main(void)
{
	ukt_setup();
	RUN(alarm_cases);
	RUN(itimer_cases);
	RUN(sleep_cases);
	RUN(clock_cases);
	return ukt_finish();
}
