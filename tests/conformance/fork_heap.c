/* fork of a brk heap whose first page is covered by another map: musl's malloc asks
 * for its heap with brk and puts a PROT_NONE guard page at the start with
 * mmap(MAP_FIXED), so every program that mallocs and then forks (a shell running a
 * pipeline) has such a heap. The child must see the heap's bytes past the guard, its
 * writes must stay its own, and the guard must still be a map in both.
 *
 * Children report through their exit status and never print case lines; stdout is
 * flushed before every fork.
 */
#include "harness.h"
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define PAGE 4096

/* The wait status of `p`, or -1. */
static int status_of(pid_t p)
{
	int st;
	return waitpid(p, &st, 0) == p ? st : -1;
}

static unsigned char *heap;

/* In the child: the two pages past the guard hold what the parent wrote; change them. */
static int child_checks(void)
{
	for (int i = 0; i < 2 * PAGE; i++)
		if (heap[PAGE + i] != (unsigned char)(i * 7))
			return 1;
	memset(heap + PAGE, 0xee, 2 * PAGE);
	/* The guard is still a map here: mprotect of an unmapped range is ENOMEM. */
	if (mprotect(heap, PAGE, PROT_NONE) != 0)
		return 2;
	/* malloc and free in the child (musl's heap goes on growing by brk). */
	for (int n = 1; n < 64; n++) {
		char *p = malloc(n * 100);
		if (!p)
			return 3;
		memset(p, n, n * 100);
		free(p);
	}
	return 0;
}

static void brk_heap_with_a_guard(void)
{
	uintptr_t cur = (uintptr_t)syscall(SYS_brk, 0);
	REQUIRE(cur != 0);
	uintptr_t start = (cur + PAGE - 1) & ~(uintptr_t)(PAGE - 1);
	TEST_RES(syscall(SYS_brk, start + 3 * PAGE), start + 3 * PAGE);
	heap = (unsigned char *)start;
	for (int i = 0; i < 2 * PAGE; i++)
		heap[PAGE + i] = (unsigned char)(i * 7);
	TEST_TRUE(mmap(heap, PAGE, PROT_NONE, MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, -1, 0) ==
		  (void *)heap);
	fflush(stdout);
	pid_t p = fork();
	if (p == 0)
		_exit(child_checks());
	TEST_TRUE(p > 0);
	TEST_RES(status_of(p), 0);
	TEST_RES(heap[PAGE + 5], (unsigned char)35);
	TEST_RES(heap[2 * PAGE + 5], (unsigned char)((PAGE + 5) * 7));
	TEST_RES(mprotect(heap, PAGE, PROT_READ), 0);
	TEST_RES(heap[0], 0);
}

/* The same after malloc: what a shell does before every fork of a pipeline. */
static void malloc_then_fork(void)
{
	char *a = malloc(100), *b = malloc(5000);
	REQUIRE(a && b);
	strcpy(a, "parent's");
	memset(b, 'b', 4999);
	b[4999] = 0;
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		int bad = strcmp(a, "parent's") != 0 || strlen(b) != 4999;
		strcpy(a, "child's");
		_exit(bad);
	}
	TEST_TRUE(p > 0);
	TEST_RES(status_of(p), 0);
	TEST_RES(strcmp(a, "parent's"), 0);
	free(a);
	free(b);
}

int main(void)
{
	ukt_setup();
	RUN(brk_heap_with_a_guard);
	RUN(malloc_then_fork);
	return ukt_finish();
}
