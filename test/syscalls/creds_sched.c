/* creds_sched: nice values (getpriority/setpriority for a process, a
 * process group and a user), scheduling policies and parameters, CPU
 * affinity, getcpu and sched_yield, with the permission rules for
 * unprivileged callers.
 *
 * Scenarios run in forked children, which set RLIMIT_NICE and
 * RLIMIT_RTPRIO to 0 (Linux's defaults) so that the native run does not
 * depend on the runner's limits. */
#define _GNU_SOURCE
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

/* no_rt_limits drops RLIMIT_NICE and RLIMIT_RTPRIO to 0 (Linux's
 * defaults), so the permission rules do not depend on the caller's. */
static void no_rt_limits(void)
{
	struct rlimit z = {0, 0};
	setrlimit(RLIMIT_NICE, &z);
	setrlimit(RLIMIT_RTPRIO, &z);
}

static void in_child(const char *name, void (*fn)(void)) { check_in_child(name, no_rt_limits, fn); }

/* dead_pid returns the pid of a child that has been reaped. */
static pid_t dead_pid(void)
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	return pid;
}

static long rawprio(int which, int who) { return syscall(SYS_getpriority, which, who); }

static void nice_values(void)
{
	CHECK_EQ("setpriority(self, 10)", setpriority(PRIO_PROCESS, 0, 10), 0);
	CHECK_EQ("getpriority", getpriority(PRIO_PROCESS, 0), 10);
	CHECK_EQ("the raw syscall returns 20 - nice", rawprio(PRIO_PROCESS, 0), 10);
	CHECK_EQ("by pid", getpriority(PRIO_PROCESS, getpid()), 10);
	CHECK_EQ("setpriority 100 clamps", setpriority(PRIO_PROCESS, 0, 100), 0);
	CHECK_EQ("to 19", getpriority(PRIO_PROCESS, 0), 19);
	CHECK_EQ("setpriority -100 as root", setpriority(PRIO_PROCESS, 0, -100), 0);
	CHECK_EQ("clamps to -20", getpriority(PRIO_PROCESS, 0), -20);
	CHECK_ERR("bad which", setpriority(5, 0, 0), EINVAL);
	CHECK_ERR("bad which (get)", rawprio(-1, 0), EINVAL);
	pid_t dead = dead_pid();
	CHECK_ERR("no such process", setpriority(PRIO_PROCESS, dead, 0), ESRCH);
	CHECK_ERR("no such process (get)", rawprio(PRIO_PROCESS, dead), ESRCH);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0)
		_exit(getpriority(PRIO_PROCESS, 0) == -20 ? 0 : 1);
	int status;
	waitpid(pid, &status, 0);
	CHECK_EQ("fork inherits the nice value", status, 0);
	setpriority(PRIO_PROCESS, 0, 0);
}

static void user(void)
{
	/* An unusual uid so that no host process shares it natively. */
	CHECK_EQ("become uid 54321", syscall(SYS_setresuid, 54321, 54321, 54321), 0);
	CHECK_EQ("setpriority(PRIO_USER, 0, 9)", setpriority(PRIO_USER, 0, 9), 0);
	CHECK_EQ("getpriority(PRIO_USER, 0)", getpriority(PRIO_USER, 0), 9);
	CHECK_EQ("getpriority(PRIO_USER, uid)", getpriority(PRIO_USER, 54321), 9);
	CHECK_ERR("a user with no processes", rawprio(PRIO_USER, 54320), ESRCH);
}

static void unprivileged(void)
{
	pid_t parent = getppid();
	CHECK_EQ("become uid 1000", syscall(SYS_setresuid, 1000, 1000, 1000), 0);
	CHECK_EQ("raise own nice value", setpriority(PRIO_PROCESS, 0, 5), 0);
	CHECK_ERR("lowering it needs CAP_SYS_NICE", setpriority(PRIO_PROCESS, 0, 4), EACCES);
	CHECK_EQ("unchanged", getpriority(PRIO_PROCESS, 0), 5);
	CHECK_ERR("renice root's process", setpriority(PRIO_PROCESS, parent, 10), EPERM);
	CHECK_EQ("reading it is allowed", getpriority(PRIO_PROCESS, parent) >= -20, 1);
	struct sched_param sp = {1};
	CHECK_ERR("SCHED_FIFO needs CAP_SYS_NICE", sched_setscheduler(0, SCHED_FIFO, &sp), EPERM);
	sp.sched_priority = 0;
	CHECK_EQ("SCHED_BATCH is allowed", sched_setscheduler(0, SCHED_BATCH, &sp), 0);
	CHECK_EQ("SCHED_IDLE is allowed", sched_setscheduler(0, SCHED_IDLE, &sp), 0);
	CHECK_ERR("leaving SCHED_IDLE needs RLIMIT_NICE or CAP_SYS_NICE",
		  sched_setscheduler(0, SCHED_OTHER, &sp), EPERM);
	CHECK_ERR("changing root's policy", sched_setscheduler(parent, SCHED_BATCH, &sp), EPERM);
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	CHECK_ERR("root's affinity", sched_setaffinity(parent, sizeof(set), &set), EPERM);
	CHECK_EQ("own affinity", sched_setaffinity(0, sizeof(set), &set), 0);
}

static void policies(void)
{
	struct sched_param sp = {0};
	CHECK_EQ("policy starts as SCHED_OTHER", sched_getscheduler(0), SCHED_OTHER);
	CHECK_EQ("priority max FIFO", sched_get_priority_max(SCHED_FIFO), 99);
	CHECK_EQ("priority min FIFO", sched_get_priority_min(SCHED_FIFO), 1);
	CHECK_EQ("priority max RR", sched_get_priority_max(SCHED_RR), 99);
	CHECK_EQ("priority max OTHER", sched_get_priority_max(SCHED_OTHER), 0);
	CHECK_EQ("priority min IDLE", sched_get_priority_min(SCHED_IDLE), 0);
	CHECK_ERR("priority max of policy 99", sched_get_priority_max(99), EINVAL);
	CHECK_ERR("priority min of policy -1", sched_get_priority_min(-1), EINVAL);

	CHECK_EQ("SCHED_BATCH", sched_setscheduler(0, SCHED_BATCH, &sp), 0);
	CHECK_EQ("reads SCHED_BATCH", sched_getscheduler(0), SCHED_BATCH);
	CHECK_EQ("SCHED_IDLE", sched_setscheduler(0, SCHED_IDLE, &sp), 0);
	CHECK_EQ("reads SCHED_IDLE", sched_getscheduler(0), SCHED_IDLE);
	CHECK_EQ("back to SCHED_OTHER as root", sched_setscheduler(0, SCHED_OTHER, &sp), 0);
	sp.sched_priority = 5;
	CHECK_ERR("SCHED_OTHER with priority 5", sched_setscheduler(0, SCHED_OTHER, &sp), EINVAL);
	sp.sched_priority = 0;
	CHECK_ERR("SCHED_FIFO with priority 0", sched_setscheduler(0, SCHED_FIFO, &sp), EINVAL);
	sp.sched_priority = 100;
	CHECK_ERR("SCHED_FIFO with priority 100", sched_setscheduler(0, SCHED_FIFO, &sp), EINVAL);
	sp.sched_priority = -1;
	CHECK_ERR("SCHED_RR with priority -1", sched_setscheduler(0, SCHED_RR, &sp), EINVAL);
	sp.sched_priority = 0;
	CHECK_ERR("policy 99", sched_setscheduler(0, 99, &sp), EINVAL);
	CHECK_ERR("policy -1", syscall(SYS_sched_setscheduler, 0, -1, &sp), EINVAL);
	CHECK_ERR("pid -1", syscall(SYS_sched_setscheduler, -1, SCHED_OTHER, &sp), EINVAL);
	CHECK_ERR("NULL param", syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, NULL), EINVAL);
	CHECK_ERR("bad param", syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, (void *)8), EFAULT);
	CHECK_ERR("getscheduler pid -1", sched_getscheduler(-1), EINVAL);
	pid_t dead = dead_pid();
	CHECK_ERR("getscheduler of a reaped pid", sched_getscheduler(dead), ESRCH);
	CHECK_ERR("setscheduler of a reaped pid", sched_setscheduler(dead, SCHED_OTHER, &sp), ESRCH);
	CHECK_ERR("getparam NULL", syscall(SYS_sched_getparam, 0, NULL), EINVAL);
	CHECK_EQ("getparam", sched_getparam(0, &sp), 0);
	CHECK_EQ("priority 0", sp.sched_priority, 0);

	sp.sched_priority = 10;
	CHECK_EQ("SCHED_FIFO 10 as root", sched_setscheduler(0, SCHED_FIFO, &sp), 0);
	CHECK_EQ("reads SCHED_FIFO", sched_getscheduler(0), SCHED_FIFO);
	sp.sched_priority = 0;
	sched_getparam(0, &sp);
	CHECK_EQ("priority 10", sp.sched_priority, 10);
	struct timespec ts = {9, 9};
	CHECK_EQ("rr interval of FIFO", sched_rr_get_interval(0, &ts), 0);
	CHECK("is 0", ts.tv_sec == 0 && ts.tv_nsec == 0);
	sp.sched_priority = 20;
	CHECK_EQ("sched_setparam 20", sched_setparam(0, &sp), 0);
	CHECK_EQ("still FIFO", sched_getscheduler(0), SCHED_FIFO);
	sched_getparam(0, &sp);
	CHECK_EQ("priority 20", sp.sched_priority, 20);
	sp.sched_priority = 0;
	CHECK_ERR("sched_setparam 0 on FIFO", sched_setparam(0, &sp), EINVAL);
	sp.sched_priority = 5;
	CHECK_EQ("SCHED_RR 5", sched_setscheduler(0, SCHED_RR, &sp), 0);
	CHECK_EQ("rr interval of RR", sched_rr_get_interval(0, &ts), 0);
	CHECK("is 100 ms", ts.tv_sec == 0 && ts.tv_nsec == 100000000);
	CHECK_ERR("rr interval pid -1", sched_rr_get_interval(-1, &ts), EINVAL);
	CHECK_ERR("rr interval bad pointer", sched_rr_get_interval(0, (void *)8), EFAULT);

	sp.sched_priority = 5;
	CHECK_EQ("SCHED_FIFO | SCHED_RESET_ON_FORK", sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp), 0);
	CHECK_EQ("getscheduler shows the flag", sched_getscheduler(0), SCHED_FIFO | SCHED_RESET_ON_FORK);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		struct sched_param c;
		sched_getparam(0, &c);
		_exit(sched_getscheduler(0) == SCHED_OTHER && c.sched_priority == 0 ? 0 : 1);
	}
	int status;
	waitpid(pid, &status, 0);
	CHECK_EQ("the child starts as SCHED_OTHER", status, 0);
	sp.sched_priority = 0;
	CHECK_EQ("back to SCHED_OTHER", sched_setscheduler(0, SCHED_OTHER, &sp), 0);
}

static void affinity(void)
{
	cpu_set_t set, got;
	CPU_ZERO(&set);
	long n = syscall(SYS_sched_getaffinity, 0, sizeof(set), &set);
	CHECK("getaffinity returns whole longs", n > 0 && n % 8 == 0 && n <= (long)sizeof(set));
	CHECK("at least one CPU", CPU_COUNT(&set) >= 1);
	CHECK_ERR("size 4", syscall(SYS_sched_getaffinity, 0, 4, &set), EINVAL);
	CHECK_ERR("size 0", syscall(SYS_sched_getaffinity, 0, 0, &set), EINVAL);
	CHECK_ERR("size 12", syscall(SYS_sched_getaffinity, 0, 12, &set), EINVAL);
	CHECK_ERR("bad pointer", syscall(SYS_sched_getaffinity, 0, sizeof(set), (void *)8), EFAULT);
	pid_t dead = dead_pid();
	CHECK_ERR("reaped pid", sched_getaffinity(dead, sizeof(set), &set), ESRCH);

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	CHECK_EQ("pin to CPU 0", sched_setaffinity(0, sizeof(set), &set), 0);
	CPU_ZERO(&got);
	sched_getaffinity(0, sizeof(got), &got);
	CHECK("mask is {0}", CPU_COUNT(&got) == 1 && CPU_ISSET(0, &got));
	unsigned cpu = 99, node = 99;
	CHECK_EQ("getcpu", syscall(SYS_getcpu, &cpu, &node, NULL), 0);
	CHECK("runs on CPU 0, node 0", cpu == 0 && node == 0);
	CHECK_ERR("getcpu bad pointer", syscall(SYS_getcpu, (void *)8, NULL, NULL), EFAULT);
	CHECK_EQ("getcpu with NULLs", syscall(SYS_getcpu, NULL, NULL, NULL), 0);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		cpu_set_t c;
		sched_getaffinity(0, sizeof(c), &c);
		_exit(CPU_COUNT(&c) == 1 && CPU_ISSET(0, &c) ? 0 : 1);
	}
	int status;
	waitpid(pid, &status, 0);
	CHECK_EQ("fork inherits it", status, 0);

	CPU_ZERO(&set);
	CHECK_ERR("empty mask", sched_setaffinity(0, sizeof(set), &set), EINVAL);
	CPU_SET(1000, &set);
	CHECK_ERR("only a CPU that does not exist", sched_setaffinity(0, sizeof(set), &set), EINVAL);
	CHECK_ERR("zero length", syscall(SYS_sched_setaffinity, 0, 0, &set), EINVAL);
	CHECK_ERR("bad pointer", syscall(SYS_sched_setaffinity, 0, sizeof(set), (void *)8), EFAULT);
	CHECK_ERR("reaped pid", sched_setaffinity(dead, sizeof(got), &got), ESRCH);
	unsigned long one = 1;
	CHECK_EQ("an 8-byte mask", syscall(SYS_sched_setaffinity, 0, 8, &one), 0);
	CHECK_EQ("sched_yield", sched_yield(), 0);
}

int main(void)
{
	/* The checks expect the default nice value: a runner started under
	 * nice(1) would otherwise fail them natively. */
	setpriority(PRIO_PROCESS, 0, 0);
	in_child("nice_values", nice_values);
	in_child("user", user);
	in_child("unprivileged", unprivileged);
	in_child("policies", policies);
	in_child("affinity", affinity);
	return check_done();
}
