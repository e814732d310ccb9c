# oci_seccomp.sh is sourced by oci.sh (its helpers and bundles):
# config.json's linux.seccomp, compiled by runsc/ociseccomp and enforced by
# the sentry on the init and on exec'd processes, and a profile runsc
# cannot enforce refused at create with nothing left behind.

ln -sf busybox "$RFS/bin/mkdir"
ln -sf busybox "$RFS/bin/chmod"

# Allow by default; mkdir fails with the default errno (EPERM), chmod with
# its own (ENOSYS), through whichever syscall the libc uses. The root is
# read-only: without the filter both would fail with EROFS instead. kill
# is refused only for signal 10 (SIGUSR1), an argument comparison.
SC_DENY='{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],"syscalls":[
 {"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"},
 {"names":["chmod","fchmodat","fchmodat2","no_such_syscall"],"action":"SCMP_ACT_ERRNO","errnoRet":38},
 {"names":["kill"],"action":"SCMP_ACT_ERRNO","args":[{"index":1,"value":10,"op":"SCMP_CMP_EQ"}]}]}'
expect_run seccomp-deny 0 "mkdir: can't create directory '/x': Operation not permitted
chmod: /bin: Function not implemented
usr1 denied
kill 0 allowed
still running" '{"process":{"args":["sh","-c","mkdir /x 2>&1; chmod 700 /bin 2>&1; kill -USR1 1 2>/dev/null || echo usr1 denied; kill -0 1 && echo kill 0 allowed; echo still running"]},"linux":{"seccomp":'"$SC_DENY"'}}'

# Deny by default (EACCES) with an allow-list that is just enough for
# busybox's echo and mkdir to start and print.
SC_ALLOW='{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":13,"syscalls":[{"action":"SCMP_ACT_ALLOW","names":[
 "arch_prctl","set_tid_address","set_robust_list","rseq","brk","mmap","munmap","mprotect","readlink","readlinkat",
 "getuid","geteuid","getgid","getegid","getpid","gettid","uname","prlimit64","getrlimit","write","writev","exit","exit_group",
 "rt_sigaction","rt_sigprocmask","ioctl","fstat","newfstatat","statx","close","read","open","openat","getrandom","futex","fcntl","dup2","umask","stat","lstat"]}]}'
expect_run seccomp-allowlist 0 "hello" '{"process":{"args":["echo","hello"]},"linux":{"seccomp":'"$SC_ALLOW"'}}'
expect_run seccomp-allowlist-deny 1 "mkdir: can't create directory '/x': Permission denied" \
	'{"process":{"args":["sh","-c","exec mkdir /x 2>&1"]},"linux":{"seccomp":'"$SC_ALLOW"'}}'

# exec'd processes get the container's profile too.
B=$(bundle seccomp-exec '{"process":{"args":["sleep","30"]},"linux":{"seccomp":'"$SC_DENY"'}}')
rs create --bundle "$B" seccomp-exec
rs start seccomp-exec
rs exec seccomp-exec sh -c 'mkdir /x 2>&1; echo done'
if [ "$out" = "mkdir: can't create directory '/x': Operation not permitted
done" ]; then pass "seccomp: exec'd process"; else fail "seccomp: exec'd process" "status $status" "$out" "$err"; fi
rs kill seccomp-exec 9
rs wait seccomp-exec
rs delete seccomp-exec

# A profile with an action runsc does not know fails create, cleanly.
B=$(bundle seccomp-bad '{"linux":{"seccomp":{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_BOGUS"}]}}}')
rs create --bundle "$B" --pid-file "$WORK/scbad.pid" seccomp-bad
pid=$(cat "$WORK/scbad.pid" 2>/dev/null)
left=$(gone seccomp-bad "$pid")
if [ "$status" -ne 0 ] && grep -q 'linux.seccomp.syscalls\[0\]: unknown action .*SCMP_ACT_BOGUS' <<<"$err" && [ -z "$left" ]; then
	pass "seccomp: unknown action refused at create"
else
	fail "seccomp: unknown action refused at create" "status $status $left" "$err"
fi
