/* futex_wakeop: FUTEX_WAKE_OP's operations (SET, ADD, OR, ANDN, XOR, with
 * and without FUTEX_OP_OPARG_SHIFT), its comparisons (with sign-extended
 * arguments), the wakes it does on both words, and its errors. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>

#include "check.h"
#include "futex.h"

static volatile uint32_t f1, f2;

struct waiter {
	volatile uint32_t *f;
	uint32_t val;
	long ret;
};

static void *wait_thread(void *arg)
{
	struct waiter *w = arg;
	w->ret = futex(w->f, FUTEX_WAIT_PRIVATE, w->val, NULL, NULL, 0);
	return NULL;
}

/* op_result applies op to f2 = start with no waiters and returns f2. */
static uint32_t op_result(uint32_t start, uint32_t op)
{
	f2 = start;
	long r = futex2(&f1, FUTEX_WAKE_OP_PRIVATE, 1, 1, &f2, op);
	if (r != 0)
		printf("FAIL wake_op returned %ld\n", r);
	return f2;
}

/* cmp_holds reports whether op's comparison held for old value old, seen
 * through the wake of a waiter of f2. */
static int cmp_holds(uint32_t old, uint32_t op)
{
	pthread_t th;
	struct waiter w = {.f = &f2, .val = old};
	f2 = old;
	pthread_create(&th, NULL, wait_thread, &w);
	await_waiters(&f2, 1, 1);
	long r = futex2(&f1, FUTEX_WAKE_OP_PRIVATE, 1, 1, &f2, op);
	if (r == 0)
		futex(&f2, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	pthread_join(th, NULL);
	return (int)r;
}

int main(void)
{
	/* Operations; the operand is a 12-bit field, sign-extended. */
	CHECK_EQ("SET", op_result(5, FUTEX_OP(FUTEX_OP_SET, 7, FUTEX_OP_CMP_EQ, 0)), 7);
	CHECK_EQ("SET negative", op_result(5, FUTEX_OP(FUTEX_OP_SET, 0xfff, FUTEX_OP_CMP_EQ, 0)), 0xffffffff);
	CHECK_EQ("ADD", op_result(5, FUTEX_OP(FUTEX_OP_ADD, 3, FUTEX_OP_CMP_EQ, 0)), 8);
	CHECK_EQ("ADD -1", op_result(5, FUTEX_OP(FUTEX_OP_ADD, 0xfff, FUTEX_OP_CMP_EQ, 0)), 4);
	CHECK_EQ("OR", op_result(0x10, FUTEX_OP(FUTEX_OP_OR, 0x3, FUTEX_OP_CMP_EQ, 0)), 0x13);
	CHECK_EQ("ANDN", op_result(0xff, FUTEX_OP(FUTEX_OP_ANDN, 0xf, FUTEX_OP_CMP_EQ, 0)), 0xf0);
	CHECK_EQ("XOR", op_result(0xff, FUTEX_OP(FUTEX_OP_XOR, 0x101, FUTEX_OP_CMP_EQ, 0)), 0x1fe);
	CHECK_EQ("OR with OPARG_SHIFT",
		 op_result(0, FUTEX_OP((FUTEX_OP_OR | FUTEX_OP_OPARG_SHIFT), 4, FUTEX_OP_CMP_EQ, 0)), 0x10);
	CHECK_EQ("SET with OPARG_SHIFT 31",
		 op_result(0, FUTEX_OP((FUTEX_OP_SET | FUTEX_OP_OPARG_SHIFT), 31, FUTEX_OP_CMP_EQ, 0)), 0x80000000);
	CHECK_EQ("ANDN with OPARG_SHIFT",
		 op_result(0xff, FUTEX_OP((FUTEX_OP_ANDN | FUTEX_OP_OPARG_SHIFT), 7, FUTEX_OP_CMP_EQ, 0)), 0x7f);
	CHECK_EQ("out-of-range shift is taken mod 32",
		 op_result(0, FUTEX_OP((FUTEX_OP_OR | FUTEX_OP_OPARG_SHIFT), 33, FUTEX_OP_CMP_EQ, 0)), 2);

	/* Comparisons of the old value, signed. */
	CHECK_EQ("EQ true", cmp_holds(3, FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_EQ, 3)), 1);
	CHECK_EQ("EQ false", cmp_holds(4, FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_EQ, 3)), 0);
	CHECK_EQ("NE true", cmp_holds(4, FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_NE, 3)), 1);
	CHECK_EQ("NE false", cmp_holds(3, FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_NE, 3)), 0);
	CHECK_EQ("LT true", cmp_holds(2, FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_LT, 3)), 1);
	CHECK_EQ("LT false", cmp_holds(3, FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_LT, 3)), 0);
	CHECK_EQ("LE true", cmp_holds(3, FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_LE, 3)), 1);
	CHECK_EQ("LE false", cmp_holds(4, FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_LE, 3)), 0);
	CHECK_EQ("GT true", cmp_holds(4, FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_GT, 3)), 1);
	CHECK_EQ("GT false", cmp_holds(3, FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_GT, 3)), 0);
	CHECK_EQ("GE true", cmp_holds(3, FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_GE, 3)), 1);
	CHECK_EQ("GE false", cmp_holds(2, FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_GE, 3)), 0);
	CHECK_EQ("LT is signed", cmp_holds(0xfffffffe, FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_LT, 0)), 1);
	CHECK_EQ("cmparg is sign-extended",
		 cmp_holds(0xffffffff, FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_EQ, 0xfff)), 1);

	/* Wakes on both words are counted together. */
	pthread_t th[4];
	struct waiter w[4];
	f1 = 0;
	f2 = 0;
	for (int i = 0; i < 4; i++) {
		w[i] = (struct waiter){.f = i < 2 ? &f1 : &f2, .val = 0};
		pthread_create(&th[i], NULL, wait_thread, &w[i]);
	}
	await_waiters(&f1, 1, 2);
	await_waiters(&f2, 1, 2);
	CHECK_EQ("wakes 1 on f1 and 2 on f2",
		 futex2(&f1, FUTEX_WAKE_OP_PRIVATE, 1, 2, &f2, FUTEX_OP(FUTEX_OP_SET, 1, FUTEX_OP_CMP_EQ, 0)), 3);
	CHECK_EQ("f2 was set", f2, 1);
	CHECK_EQ("comparison false wakes only f1",
		 futex2(&f1, FUTEX_WAKE_OP_PRIVATE, 5, 5, &f2, FUTEX_OP(FUTEX_OP_SET, 1, FUTEX_OP_CMP_EQ, 0)), 1);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	CHECK_EQ("waiters returned 0", w[0].ret | w[1].ret | w[2].ret | w[3].ret, 0);

	/* Errors. */
	f2 = 9;
	CHECK_ERR("unknown operation", futex2(&f1, FUTEX_WAKE_OP_PRIVATE, 1, 1, &f2, (5u << 28)), ENOSYS);
	CHECK_EQ("unknown operation leaves the word", f2, 9);
	CHECK_ERR("unknown comparison",
		  futex2(&f1, FUTEX_WAKE_OP_PRIVATE, 1, 1, &f2, FUTEX_OP(FUTEX_OP_SET, 1, 6, 0)), ENOSYS);
	CHECK_EQ("unknown comparison after the operation", f2, 1);
	void *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE("mmap", ro != MAP_FAILED);
	CHECK_ERR("read-only second word",
		  futex2(&f1, FUTEX_WAKE_OP_PRIVATE, 1, 1, ro, FUTEX_OP(FUTEX_OP_SET, 1, FUTEX_OP_CMP_EQ, 0)), EFAULT);
	CHECK_ERR("NULL second word",
		  futex2(&f1, FUTEX_WAKE_OP_PRIVATE, 1, 1, NULL, FUTEX_OP(FUTEX_OP_SET, 1, FUTEX_OP_CMP_EQ, 0)), EFAULT);
	CHECK_ERR("unaligned second word",
		  futex2(&f1, FUTEX_WAKE_OP_PRIVATE, 1, 1, (volatile uint32_t *)((char *)&f2 + 2),
			 FUTEX_OP(FUTEX_OP_SET, 1, FUTEX_OP_CMP_EQ, 0)), EINVAL);
	CHECK_EQ("shared wake_op",
		 futex2(&f1, FUTEX_WAKE_OP, 1, 1, &f2, FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_EQ, 0)), 0);
	CHECK_EQ("shared wake_op applied", f2, 2);

	return check_done();
}
