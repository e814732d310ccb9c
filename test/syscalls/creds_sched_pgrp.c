/* creds_sched_pgrp: setpriority/getpriority for a process group (the
 * child makes its own group first, so nothing outside the test is
 * reniced).
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

static void pgrp(void)
{
	REQUIRE("own process group", setpgid(0, 0) == 0);
	int go[2];
	REQUIRE("pipe", pipe(go) == 0);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		char b;
		close(go[1]);
		_exit(read(go[0], &b, 1) == 1 && getpriority(PRIO_PROCESS, 0) == 7 ? 0 : 1);
	}
	close(go[0]);
	CHECK_EQ("setpriority(PRIO_PGRP, 0, 7)", setpriority(PRIO_PGRP, 0, 7), 0);
	CHECK_EQ("getpriority(PRIO_PGRP)", getpriority(PRIO_PGRP, 0), 7);
	CHECK_EQ("by pgid", getpriority(PRIO_PGRP, getpgrp()), 7);
	CHECK_EQ("one member changed", setpriority(PRIO_PROCESS, 0, 12), 0);
	CHECK_EQ("the group reports the highest priority", getpriority(PRIO_PGRP, 0), 7);
	char b = 1;
	write(go[1], &b, 1);
	int status;
	waitpid(pid, &status, 0);
	CHECK_EQ("the other member got it too", status, 0);
	CHECK_ERR("no such group", setpriority(PRIO_PGRP, dead_pid(), 0), ESRCH);
}

int main(void)
{
	in_child("pgrp", pgrp);
	return check_done();
}
