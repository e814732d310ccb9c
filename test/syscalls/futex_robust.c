/* futex_robust: set_robust_list/get_robust_list, and owner death: when a
 * thread holding robust futexes dies, the kernel marks them
 * FUTEX_OWNER_DIED and wakes a waiter (raw futex words, including the
 * list_op_pending rules and bad lists), and the next locker of a robust
 * pthread mutex gets EOWNERDEAD (threads, processes, PI). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "check.h"
#include "futex.h"

struct lockent {
	struct robust_list link;
	uint32_t word;
};

struct shared {
	struct robust_list_head head;
	struct lockent a, b, c, d, e;
	volatile uint32_t ready;
	pthread_mutex_t mu;
};

static struct shared *sh;

static long set_robust_list(struct robust_list_head *h, size_t len)
{
	return syscall(SYS_set_robust_list, h, len);
}

static long get_robust_list(int pid, struct robust_list_head **h, size_t *len)
{
	return syscall(SYS_get_robust_list, pid, h, len);
}

static int child_status(pid_t pid)
{
	int status = 0;
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct fwaiter {
	volatile uint32_t *f;
	uint32_t val;
	long ret;
};

static void *fwait(void *arg)
{
	struct fwaiter *w = arg;
	w->ret = futex(w->f, FUTEX_WAIT, w->val, NULL, NULL, 0);
	return NULL;
}

static void signal_ready(void)
{
	__atomic_store_n(&sh->ready, 1, __ATOMIC_SEQ_CST);
	futex(&sh->ready, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

static void await_ready(void)
{
	while (__atomic_load_n(&sh->ready, __ATOMIC_SEQ_CST) == 0)
		futex(&sh->ready, FUTEX_WAIT, 0, NULL, NULL, 0);
}

/* raw_owner_death: a child holding raw robust futexes dies. */
static void raw_owner_death(void)
{
	memset(sh, 0, offsetof(struct shared, mu));
	pid_t pid = fork();
	if (pid == 0) {
		uint32_t tid = (uint32_t)gettid_();
		sh->a.word = tid | FUTEX_WAITERS; /* held, with a waiter */
		sh->b.word = tid;                 /* held, no waiter */
		sh->c.word = 12345;               /* someone else's */
		sh->d.word = 0;                   /* pending unlock, released */
		sh->e.word = tid;                 /* held, listed twice */
		sh->head.list.next = &sh->a.link;
		sh->a.link.next = &sh->b.link;
		sh->b.link.next = &sh->c.link;
		sh->c.link.next = &sh->e.link;
		sh->e.link.next = &sh->head.list;
		sh->head.futex_offset = offsetof(struct lockent, word);
		sh->head.list_op_pending = &sh->d.link;
		if (set_robust_list(&sh->head, sizeof sh->head) != 0)
			_exit(2);
		signal_ready();
		await_waiters(&sh->a.word, 0, 1);
		await_waiters(&sh->d.word, 0, 1);
		_exit(0);
	}
	REQUIRE("fork", pid > 0);
	await_ready();
	struct fwaiter wa = {.f = &sh->a.word, .val = (uint32_t)pid | FUTEX_WAITERS};
	struct fwaiter wd = {.f = &sh->d.word, .val = 0};
	pthread_t ta, td;
	pthread_create(&ta, NULL, fwait, &wa);
	pthread_create(&td, NULL, fwait, &wd);
	pthread_join(ta, NULL);
	pthread_join(td, NULL);
	CHECK_EQ("raw child", child_status(pid), 0);
	CHECK_EQ("waiter of a held futex woken", wa.ret, 0);
	CHECK_EQ("held futex with waiters: OWNER_DIED|WAITERS", sh->a.word, FUTEX_OWNER_DIED | FUTEX_WAITERS);
	CHECK_EQ("held futex: OWNER_DIED", sh->b.word, FUTEX_OWNER_DIED);
	CHECK_EQ("someone else's futex untouched", sh->c.word, 12345);
	CHECK_EQ("pending released futex woken", wd.ret, 0);
	CHECK_EQ("pending released futex untouched", sh->d.word, 0);
	CHECK_EQ("last entry: OWNER_DIED", sh->e.word, FUTEX_OWNER_DIED);
}

/* bad_lists: broken lists end the walk without harm. */
static void bad_lists(void)
{
	memset(sh, 0, offsetof(struct shared, mu));
	pid_t pid = fork();
	if (pid == 0) {
		uint32_t tid = (uint32_t)gettid_();
		sh->a.word = tid;
		sh->b.word = tid;
		sh->head.list.next = &sh->a.link;
		sh->a.link.next = (struct robust_list *)0x1000; /* unmapped */
		sh->head.futex_offset = offsetof(struct lockent, word);
		sh->head.list_op_pending = &sh->b.link;
		set_robust_list(&sh->head, sizeof sh->head);
		_exit(0);
	}
	REQUIRE("fork", pid > 0);
	CHECK_EQ("child with a bad next pointer", child_status(pid), 0);
	CHECK_EQ("entry before the bad pointer released", sh->a.word, FUTEX_OWNER_DIED);
	CHECK_EQ("pending entry not reached after a bad pointer", sh->b.word, (uint32_t)pid);

	memset(sh, 0, offsetof(struct shared, mu));
	pid = fork();
	if (pid == 0) {
		uint32_t tid = (uint32_t)gettid_();
		sh->a.word = tid;
		sh->b.word = tid;
		sh->head.list.next = &sh->a.link;
		sh->a.link.next = &sh->a.link; /* a cycle that misses the head */
		sh->head.futex_offset = offsetof(struct lockent, word);
		sh->head.list_op_pending = &sh->b.link;
		set_robust_list(&sh->head, sizeof sh->head);
		_exit(0);
	}
	REQUIRE("fork", pid > 0);
	CHECK_EQ("child with a cyclic list", child_status(pid), 0);
	CHECK_EQ("cyclic entry released", sh->a.word, FUTEX_OWNER_DIED);
	CHECK_EQ("pending entry released after the walk limit", sh->b.word, FUTEX_OWNER_DIED);

	pid = fork();
	if (pid == 0) {
		set_robust_list((struct robust_list_head *)0x1000, sizeof sh->head);
		_exit(0);
	}
	REQUIRE("fork", pid > 0);
	CHECK_EQ("child with an unmapped head", child_status(pid), 0);

	memset(sh, 0, offsetof(struct shared, mu));
	pid = fork();
	if (pid == 0) {
		uint32_t tid = (uint32_t)gettid_();
		sh->a.word = tid;
		sh->head.list.next = &sh->a.link;
		sh->a.link.next = &sh->head.list;
		sh->head.futex_offset = 2; /* unaligned word */
		set_robust_list(&sh->head, sizeof sh->head);
		_exit(0);
	}
	REQUIRE("fork", pid > 0);
	CHECK_EQ("child with an unaligned futex", child_status(pid), 0);
	CHECK_EQ("unaligned futex ignored", sh->a.word, (uint32_t)pid);
}

static pthread_mutex_t tmu;
static volatile int locked;

static void *lock_and_die(void *arg)
{
	pthread_mutex_t *mu = arg;
	pthread_mutex_lock(mu);
	__atomic_store_n(&locked, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/* lock_and_die_contended locks, then dies once another thread waits. */
static int pi;

static void *lock_and_die_contended(void *arg)
{
	pthread_mutex_t *mu = arg;
	pthread_mutex_lock(mu);
	__atomic_store_n(&locked, 1, __ATOMIC_SEQ_CST);
	/* The lock word is glibc's __data.__lock; robust mutexes wait with
	 * shared futexes. */
	volatile uint32_t *w = (volatile uint32_t *)&mu->__data.__lock;
	if (pi)
		await_pi_waiter(w, 0);
	else
		await_waiters(w, 0, 1);
	return NULL;
}

static void robust_mutex(const char *name, int protocol, int contended)
{
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	pthread_mutexattr_setprotocol(&a, protocol);
	pthread_mutex_init(&tmu, &a);
	locked = 0;
	pi = protocol == PTHREAD_PRIO_INHERIT;
	pthread_t th;
	char buf[128];
	pthread_create(&th, NULL, contended ? lock_and_die_contended : lock_and_die, &tmu);
	if (contended) {
		while (!__atomic_load_n(&locked, __ATOMIC_SEQ_CST))
			usleep(1000);
	} else {
		pthread_join(th, NULL);
	}
	snprintf(buf, sizeof buf, "%s: lock after the owner died", name);
	CHECK_EQ(buf, pthread_mutex_lock(&tmu), EOWNERDEAD);
	if (contended)
		pthread_join(th, NULL);
	snprintf(buf, sizeof buf, "%s: consistent", name);
	CHECK_EQ(buf, pthread_mutex_consistent(&tmu), 0);
	snprintf(buf, sizeof buf, "%s: unlock", name);
	CHECK_EQ(buf, pthread_mutex_unlock(&tmu), 0);
	snprintf(buf, sizeof buf, "%s: lock again", name);
	CHECK_EQ(buf, pthread_mutex_lock(&tmu), 0);
	pthread_mutex_unlock(&tmu);
	pthread_mutex_destroy(&tmu);
}

/* process_death: a process holding a process-shared robust mutex dies
 * while the parent waits for it. */
static void process_death(int protocol, const char *name)
{
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setprotocol(&a, protocol);
	pthread_mutex_init(&sh->mu, &a);
	sh->ready = 0;
	pid_t pid = fork();
	if (pid == 0) {
		pthread_mutex_lock(&sh->mu);
		signal_ready();
		volatile uint32_t *w = (volatile uint32_t *)&sh->mu.__data.__lock;
		if (protocol == PTHREAD_PRIO_INHERIT)
			await_pi_waiter(w, 0);
		else
			await_waiters(w, 0, 1);
		_exit(0);
	}
	REQUIRE("fork", pid > 0);
	await_ready();
	char buf[128];
	snprintf(buf, sizeof buf, "%s: parent's lock after the child died", name);
	CHECK_EQ(buf, pthread_mutex_lock(&sh->mu), EOWNERDEAD);
	pthread_mutex_consistent(&sh->mu);
	pthread_mutex_unlock(&sh->mu);
	snprintf(buf, sizeof buf, "%s: child", name);
	CHECK_EQ(buf, child_status(pid), 0);
}

int main(void)
{
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	REQUIRE("mmap", sh != MAP_FAILED);

	/* set_robust_list / get_robust_list. */
	struct robust_list_head *h = NULL;
	size_t len = 0;
	CHECK_ERR("set_robust_list bad length", set_robust_list(&sh->head, sizeof sh->head - 1), EINVAL);
	CHECK_ERR("set_robust_list long length", set_robust_list(&sh->head, sizeof sh->head + 8), EINVAL);
	struct robust_list_head *mine;
	get_robust_list(0, &mine, &len);
	static struct robust_list_head myhead = {.list = {&myhead.list}};
	CHECK_EQ("set_robust_list", set_robust_list(&myhead, sizeof myhead), 0);
	CHECK_EQ("get_robust_list self", get_robust_list(0, &h, &len), 0);
	CHECK("get_robust_list head", h == &myhead);
	CHECK_EQ("get_robust_list length", len, sizeof myhead);
	h = NULL;
	CHECK_EQ("get_robust_list by own tid", get_robust_list(gettid_(), &h, &len), 0);
	CHECK("get_robust_list by own tid head", h == &myhead);
	CHECK_ERR("get_robust_list no such thread", get_robust_list(0x3ffffff0, &h, &len), ESRCH);
	CHECK_ERR("get_robust_list bad pointer", get_robust_list(0, (void *)8, &len), EFAULT);
	sh->ready = 0;
	pid_t pid = fork();
	if (pid == 0) {
		set_robust_list(&sh->head, sizeof sh->head);
		signal_ready();
		while (__atomic_load_n(&sh->ready, __ATOMIC_SEQ_CST) != 2)
			futex(&sh->ready, FUTEX_WAIT, 1, NULL, NULL, 0);
		_exit(0);
	}
	REQUIRE("fork", pid > 0);
	await_ready();
	h = NULL;
	CHECK_EQ("get_robust_list of a child", get_robust_list(pid, &h, &len), 0);
	CHECK("child's head", h == &sh->head);
	__atomic_store_n(&sh->ready, 2, __ATOMIC_SEQ_CST);
	futex(&sh->ready, FUTEX_WAKE, 1, NULL, NULL, 0);
	CHECK_EQ("child exit", child_status(pid), 0);
	set_robust_list(mine, sizeof *mine); /* give glibc its list back */

	raw_owner_death();
	bad_lists();

	robust_mutex("robust mutex", PTHREAD_PRIO_NONE, 0);
	robust_mutex("robust mutex with a waiter", PTHREAD_PRIO_NONE, 1);
	robust_mutex("robust PI mutex", PTHREAD_PRIO_INHERIT, 0);
	robust_mutex("robust PI mutex with a waiter", PTHREAD_PRIO_INHERIT, 1);
	process_death(PTHREAD_PRIO_NONE, "pshared robust mutex");
	process_death(PTHREAD_PRIO_INHERIT, "pshared robust PI mutex");

	return check_done();
}
