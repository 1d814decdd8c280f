/* pthreads through musl: create/join return values, detach, 8 threads x 100k mutex
 * increments, condvar handoff, barriers, semaphores, rwlocks, __thread storage,
 * pthread keys, once, timed waits, sched_yield, set_robust_list (through musl). */
#include "harness.h"
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdint.h>
#include <time.h>

#define NTHREADS 8
#define NINCR 100000

static pthread_mutex_t mtx = PTHREAD_MUTEX_INITIALIZER;
static long counter;

static void *incr(void *arg)
{
	for (int i = 0; i < NINCR; i++) {
		pthread_mutex_lock(&mtx);
		counter++;
		if ((i & 1023) == 0) {
			pthread_mutex_unlock(&mtx);
			sched_yield(); /* let the others in, even on a cooperative scheduler */
			continue;
		}
		pthread_mutex_unlock(&mtx);
	}
	return arg;
}

static void *ret_arg_times_two(void *arg)
{
	return (void *)((intptr_t)arg * 2);
}

static void *exit_early(void *arg)
{
	pthread_exit((void *)((intptr_t)arg + 1000));
	return NULL;
}

static void create_join(void)
{
	pthread_t t[NTHREADS];
	void *ret;
	int ok = 1;
	for (int i = 0; i < NTHREADS; i++)
		ok &= pthread_create(&t[i], NULL, ret_arg_times_two, (void *)(intptr_t)(i + 1)) == 0;
	TEST_TRUE(ok);
	long sum = 0;
	for (int i = 0; i < NTHREADS; i++) {
		ok &= pthread_join(t[i], &ret) == 0;
		sum += (intptr_t)ret;
	}
	TEST_TRUE(ok);
	TEST_RES(sum, 2 * (NTHREADS * (NTHREADS + 1) / 2));
	TEST_RES(pthread_create(&t[0], NULL, exit_early, (void *)5), 0);
	TEST_RES(pthread_join(t[0], &ret), 0);
	TEST_RES(ret, (void *)1005);
	/* Detached threads cannot be joined; they still run. */
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	TEST_RES(pthread_create(&t[1], &attr, ret_arg_times_two, NULL), 0);
	pthread_attr_destroy(&attr);
	TEST_RES(pthread_create(&t[2], NULL, ret_arg_times_two, NULL), 0);
	TEST_RES(pthread_detach(t[2]), 0);
	TEST_TRUE(pthread_equal(pthread_self(), pthread_self()));
	/* A small explicit stack size works. */
	pthread_attr_init(&attr);
	TEST_RES(pthread_attr_setstacksize(&attr, 64 * 1024), 0);
	TEST_RES(pthread_create(&t[3], &attr, ret_arg_times_two, (void *)21), 0);
	TEST_RES(pthread_join(t[3], &ret), 0);
	TEST_RES(ret, (void *)42);
	pthread_attr_destroy(&attr);
	/* Thread ids are distinct and not the pid. */
	TEST_TRUE(syscall(SYS_gettid) == getpid());
}

static void mutex_counter(void)
{
	pthread_t t[NTHREADS];
	counter = 0;
	int ok = 1;
	for (int i = 0; i < NTHREADS; i++)
		ok &= pthread_create(&t[i], NULL, incr, NULL) == 0;
	TEST_TRUE(ok);
	for (int i = 0; i < NTHREADS; i++)
		ok &= pthread_join(t[i], NULL) == 0;
	TEST_TRUE(ok);
	TEST_RES(counter, (long)NTHREADS * NINCR);
	/* Mutex kinds. */
	pthread_mutex_t m;
	pthread_mutexattr_t ma;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_init(&m, &ma);
	TEST_RES(pthread_mutex_lock(&m), 0);
	TEST_RES(pthread_mutex_lock(&m), EDEADLK);
	TEST_RES(pthread_mutex_trylock(&m), EBUSY);
	TEST_RES(pthread_mutex_unlock(&m), 0);
	TEST_RES(pthread_mutex_unlock(&m), EPERM);
	pthread_mutex_destroy(&m);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&m, &ma);
	TEST_RES(pthread_mutex_lock(&m), 0);
	TEST_RES(pthread_mutex_lock(&m), 0);
	TEST_RES(pthread_mutex_trylock(&m), 0);
	TEST_RES(pthread_mutex_unlock(&m) + pthread_mutex_unlock(&m) + pthread_mutex_unlock(&m), 0);
	pthread_mutex_destroy(&m);
	pthread_mutexattr_destroy(&ma);
	/* A timed lock on a held mutex times out. */
	pthread_mutex_init(&m, NULL);
	pthread_mutex_lock(&m);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 20000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	TEST_RES(pthread_mutex_timedlock(&m, &ts), ETIMEDOUT);
	pthread_mutex_unlock(&m);
}

static pthread_mutex_t cm = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int turn, rounds_done;

static void *pong(void *arg)
{
	(void)arg;
	for (int i = 0; i < 1000; i++) {
		pthread_mutex_lock(&cm);
		while (turn != 1)
			pthread_cond_wait(&cv, &cm);
		turn = 0;
		rounds_done++;
		pthread_cond_signal(&cv);
		pthread_mutex_unlock(&cm);
	}
	return NULL;
}

static int ready_count;
static void *wait_broadcast(void *arg)
{
	pthread_mutex_lock(&cm);
	ready_count++;
	while (turn != 7)
		pthread_cond_wait(&cv, &cm);
	ready_count--;
	pthread_mutex_unlock(&cm);
	return arg;
}

static void condvars(void)
{
	pthread_t t;
	turn = 0;
	rounds_done = 0;
	REQUIRE(pthread_create(&t, NULL, pong, NULL) == 0);
	for (int i = 0; i < 1000; i++) {
		pthread_mutex_lock(&cm);
		turn = 1;
		pthread_cond_signal(&cv);
		while (turn != 0)
			pthread_cond_wait(&cv, &cm);
		pthread_mutex_unlock(&cm);
	}
	TEST_RES(pthread_join(t, NULL), 0);
	TEST_RES(rounds_done, 1000);
	/* Broadcast wakes every waiter. */
	pthread_t w[4];
	ready_count = 0;
	int ok = 1;
	for (int i = 0; i < 4; i++)
		ok &= pthread_create(&w[i], NULL, wait_broadcast, NULL) == 0;
	TEST_TRUE(ok);
	for (int spin = 0; spin < 2000; spin++) {
		pthread_mutex_lock(&cm);
		int n = ready_count;
		pthread_mutex_unlock(&cm);
		if (n == 4)
			break;
		usleep(1000);
	}
	pthread_mutex_lock(&cm);
	TEST_RES(ready_count, 4);
	turn = 7;
	TEST_RES(pthread_cond_broadcast(&cv), 0);
	pthread_mutex_unlock(&cm);
	for (int i = 0; i < 4; i++)
		ok &= pthread_join(w[i], NULL) == 0;
	TEST_TRUE(ok);
	TEST_RES(ready_count, 0);
	/* Timed wait with nobody signalling. */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 30000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&cm);
	TEST_RES(pthread_cond_timedwait(&cv, &cm, &ts), ETIMEDOUT);
	pthread_mutex_unlock(&cm);
	/* A monotonic-clock condvar. */
	pthread_condattr_t ca;
	pthread_cond_t mcv;
	pthread_condattr_init(&ca);
	TEST_RES(pthread_condattr_setclock(&ca, CLOCK_MONOTONIC), 0);
	pthread_cond_init(&mcv, &ca);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += 10000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&cm);
	TEST_RES(pthread_cond_timedwait(&mcv, &cm, &ts), ETIMEDOUT);
	pthread_mutex_unlock(&cm);
	pthread_cond_destroy(&mcv);
}

static pthread_barrier_t bar;
static int phase_seen[4][3];
static volatile int phase;

static void *barrier_worker(void *arg)
{
	int id = (int)(intptr_t)arg, serial = 0;
	for (int p = 0; p < 3; p++) {
		phase_seen[id][p] = phase;
		int r = pthread_barrier_wait(&bar);
		if (r == PTHREAD_BARRIER_SERIAL_THREAD) {
			serial++;
			phase++;
		}
		pthread_barrier_wait(&bar);
	}
	return (void *)(intptr_t)serial;
}

static void barriers(void)
{
	pthread_t t[4];
	phase = 0;
	TEST_RES(pthread_barrier_init(&bar, NULL, 4), 0);
	int ok = 1;
	for (int i = 0; i < 4; i++)
		ok &= pthread_create(&t[i], NULL, barrier_worker, (void *)(intptr_t)i) == 0;
	TEST_TRUE(ok);
	long serials = 0;
	void *r;
	for (int i = 0; i < 4; i++) {
		ok &= pthread_join(t[i], &r) == 0;
		serials += (intptr_t)r;
	}
	TEST_TRUE(ok);
	TEST_RES(serials, 3); /* exactly one serial thread per round */
	int same = 1;
	for (int i = 0; i < 4; i++)
		for (int p = 0; p < 3; p++)
			same &= phase_seen[i][p] == p;
	TEST_TRUE(same); /* nobody ran ahead into the next phase */
	TEST_RES(pthread_barrier_destroy(&bar), 0);
	TEST_RES(pthread_barrier_init(&bar, NULL, 0), EINVAL);
}

static sem_t sem_items, sem_space;
static int ring[4], ring_head, ring_tail;

static void *producer(void *arg)
{
	(void)arg;
	for (int i = 1; i <= 1000; i++) {
		sem_wait(&sem_space);
		ring[ring_head++ % 4] = i;
		sem_post(&sem_items);
	}
	return NULL;
}

static void semaphores(void)
{
	pthread_t t;
	TEST_RES(sem_init(&sem_items, 0, 0), 0);
	TEST_RES(sem_init(&sem_space, 0, 4), 0);
	ring_head = ring_tail = 0;
	REQUIRE(pthread_create(&t, NULL, producer, NULL) == 0);
	long sum = 0;
	int in_order = 1;
	for (int i = 1; i <= 1000; i++) {
		sem_wait(&sem_items);
		int v = ring[ring_tail++ % 4];
		in_order &= v == i;
		sum += v;
		sem_post(&sem_space);
	}
	pthread_join(t, NULL);
	TEST_RES(sum, 500500);
	TEST_TRUE(in_order);
	int v = -1;
	TEST_RES(sem_getvalue(&sem_space, &v), 0);
	TEST_RES(v, 4);
	TEST_ERRNO(sem_trywait(&sem_items), EAGAIN);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 20000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	TEST_ERRNO(sem_timedwait(&sem_items, &ts), ETIMEDOUT);
	TEST_RES(sem_post(&sem_items), 0);
	TEST_RES(sem_trywait(&sem_items), 0);
	TEST_ERRNO(sem_init(&sem_items, 0, (unsigned)SEM_VALUE_MAX + 1), EINVAL);
	sem_destroy(&sem_items);
	sem_destroy(&sem_space);
}

static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static long rw_value;
static void *rw_writer(void *arg)
{
	for (int i = 0; i < 20000; i++) {
		pthread_rwlock_wrlock(&rw);
		rw_value++;
		pthread_rwlock_unlock(&rw);
		if ((i & 255) == 0)
			sched_yield();
	}
	return arg;
}
static void *rw_reader(void *arg)
{
	long last = 0, bad = 0;
	for (int i = 0; i < 20000; i++) {
		pthread_rwlock_rdlock(&rw);
		bad += rw_value < last;
		last = rw_value;
		pthread_rwlock_unlock(&rw);
		if ((i & 255) == 0)
			sched_yield();
	}
	return (void *)bad;
}

static void rwlocks(void)
{
	pthread_t t[4];
	rw_value = 0;
	int ok = 1;
	ok &= pthread_create(&t[0], NULL, rw_writer, NULL) == 0;
	ok &= pthread_create(&t[1], NULL, rw_writer, NULL) == 0;
	ok &= pthread_create(&t[2], NULL, rw_reader, NULL) == 0;
	ok &= pthread_create(&t[3], NULL, rw_reader, NULL) == 0;
	TEST_TRUE(ok);
	void *r;
	long bad = 0;
	for (int i = 0; i < 4; i++) {
		ok &= pthread_join(t[i], &r) == 0;
		bad += (long)r;
	}
	TEST_TRUE(ok);
	TEST_RES(rw_value, 40000);
	TEST_RES(bad, 0);
	/* Several readers at once; a writer excluded. */
	TEST_RES(pthread_rwlock_rdlock(&rw), 0);
	TEST_RES(pthread_rwlock_tryrdlock(&rw), 0);
	TEST_RES(pthread_rwlock_trywrlock(&rw), EBUSY);
	TEST_RES(pthread_rwlock_unlock(&rw), 0);
	TEST_RES(pthread_rwlock_unlock(&rw), 0);
	TEST_RES(pthread_rwlock_wrlock(&rw), 0);
	TEST_RES(pthread_rwlock_tryrdlock(&rw), EBUSY);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 10000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	TEST_RES(pthread_rwlock_timedrdlock(&rw, &ts), ETIMEDOUT);
	TEST_RES(pthread_rwlock_unlock(&rw), 0);
}

static __thread int tls_value = 42;
static __thread char tls_buf[64];
static pthread_key_t key;
static int destructor_runs;
static void key_destructor(void *p)
{
	(void)p;
	__atomic_fetch_add(&destructor_runs, 1, __ATOMIC_SEQ_CST);
}

static void *tls_worker(void *arg)
{
	intptr_t id = (intptr_t)arg;
	long ok = tls_value == 42 && tls_buf[0] == 0; /* fresh copies of the initial image */
	tls_value = (int)id;
	snprintf(tls_buf, sizeof tls_buf, "thread-%d", (int)id);
	pthread_setspecific(key, (void *)(id + 1));
	for (int i = 0; i < 100; i++)
		sched_yield();
	char want[64];
	snprintf(want, sizeof want, "thread-%d", (int)id);
	ok &= tls_value == id && !strcmp(tls_buf, want) && pthread_getspecific(key) == (void *)(id + 1);
	return (void *)ok;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int once_runs;
static void once_fn(void)
{
	once_runs++;
}
static void *once_worker(void *arg)
{
	pthread_once(&once, once_fn);
	return arg;
}

static void tls_keys_once(void)
{
	pthread_t t[4];
	destructor_runs = 0;
	TEST_RES(pthread_key_create(&key, key_destructor), 0);
	tls_value = 7;
	int ok = 1;
	for (int i = 0; i < 4; i++)
		ok &= pthread_create(&t[i], NULL, tls_worker, (void *)(intptr_t)(i + 100)) == 0;
	TEST_TRUE(ok);
	long all = 1;
	void *r;
	for (int i = 0; i < 4; i++) {
		ok &= pthread_join(t[i], &r) == 0;
		all &= (long)r;
	}
	TEST_TRUE(ok);
	TEST_RES(all, 1);
	TEST_RES(tls_value, 7); /* the main thread's copy is untouched */
	TEST_RES(destructor_runs, 4);
	TEST_RES(pthread_getspecific(key), NULL);
	TEST_RES(pthread_key_delete(key), 0);
	once_runs = 0;
	for (int i = 0; i < 4; i++)
		ok &= pthread_create(&t[i], NULL, once_worker, NULL) == 0;
	for (int i = 0; i < 4; i++)
		ok &= pthread_join(t[i], NULL) == 0;
	TEST_TRUE(ok);
	TEST_RES(once_runs, 1);
}

static void *spinner(void *arg)
{
	volatile int *flag = arg;
	while (!*flag)
		sched_yield();
	return NULL;
}

static void yield_and_many(void)
{
	/* A thread that only yields lets the main thread run (cooperative fairness). */
	volatile int flag = 0;
	pthread_t t;
	REQUIRE(pthread_create(&t, NULL, spinner, (void *)&flag) == 0);
	for (int i = 0; i < 10; i++)
		sched_yield();
	flag = 1;
	TEST_RES(pthread_join(t, NULL), 0);
	/* Many short-lived threads, created and joined in turn (stacks are reused). */
	int ok = 1;
	for (int i = 0; i < 200; i++) {
		void *r;
		ok &= pthread_create(&t, NULL, ret_arg_times_two, (void *)(intptr_t)i) == 0;
		ok &= pthread_join(t, &r) == 0 && r == (void *)(intptr_t)(2 * i);
	}
	TEST_TRUE(ok);
	/* 64 threads alive at once. */
	pthread_t many[64];
	for (int i = 0; i < 64; i++)
		ok &= pthread_create(&many[i], NULL, ret_arg_times_two, NULL) == 0;
	for (int i = 0; i < 64; i++)
		ok &= pthread_join(many[i], NULL) == 0;
	TEST_TRUE(ok);
}

int main(void)
{
	ukt_setup();
	RUN(create_join);
	RUN(mutex_counter);
	RUN(condvars);
	RUN(barriers);
	RUN(semaphores);
	RUN(rwlocks);
	RUN(tls_keys_once);
	RUN(yield_and_many);
	return ukt_finish();
}
