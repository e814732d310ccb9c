/*
 * The systrap stub: position-independent amd64 code mapped above the
 * application range in every stub process. build.sh assembles it into
 * ../stub.bin and writes the label offsets to ../stub_offsets.go.
 *
 * Memory it uses (offsets are constants shared with the Go side, see
 * ../layout.go):
 *   - its own image: page 0 code (r-x), page 1 data (r--) filled in by the
 *     sentry (the application threads' seccomp program, an empty signal
 *     mask, the region size, the shared file's descriptor);
 *   - the address space's region (rbx in the server thread): slot 0 holds
 *     the request page (read-only here: only the sentry writes requests)
 *     and the response page; slot i >= 1 is a thread's state page followed
 *     by its alternate signal stack. Slots are SLOT_SIZE-aligned, so the
 *     signal handler finds its state page by masking its stack pointer.
 *
 * Nothing here uses a stack other than the alternate signal stack the
 * kernel builds the signal frame on.
 */

#define SLOT_SIZE	0x10000
#define PAGE		0x1000

/* Thread state page. */
#define T_STATE		0	/* futex word and CLONE_CHILD_CLEARTID word */
#define T_STUB_SLEEP	4
#define T_SENTRY_SLEEP	8
#define T_SIGNO		12
#define T_UCTX		16
#define T_INFO		24
#define T_NR		24	/* a dynamic site's syscall number (T_INFO's word: see dyn_thunk) */
#define T_FSBASE	32
#define T_GSBASE	40
#define T_SPIN		48	/* the spin budget in TSC ticks */
#define T_SPIN_WOKE	52	/* the same, after waking the sentry */
#define T_RAX		56	/* the patch trampoline's rax (see below) */
#define T_ALTSTACK	64	/* stack_t scratch for sigaltstack */
#define T_SELF		128	/* the slot's address (syscall patching) */
#define T_INTRAMP	136	/* set while the patch trampoline waits */
#define T_MAGIC		144	/* the platform's magic (D_MAGIC): see patch_entry */
#define T_FSCUR		152	/* without FSGSBASE: the fs base the thread has, */
#define T_GSCUR		160	/* and the gs base, as set_fsbase/set_gsbase set them */
#define T_PREGS		256	/* registers saved by the patch trampoline */
#define T_CREGS		448	/* its rbx, rbp, r12-r15, r11, rflags (SAVE) */
#define T_RESET_UC	1024	/* handler_reset's ucontext (rt_sigreturn) */
#define T_RESET_SP	2048	/* the stack pointer it restores */

/* T_FSCUR/T_GSCUR of a thread whose base is not known (a new or reset
 * thread): not canonical, so no base the sentry sets equals it. */
#define BASE_UNKNOWN	0x8000000000000000

#define ST_EVENT	1
#define ST_RUN		2
#define ST_TRAP		4	/* leave the patch trampoline through a trap */
#define ST_RESET	5	/* reset for a next address space (handler_reset) */

/* Request page (slot 0, page 0) and response page (slot 0, page 1). */
#define R_SEQ		0
#define R_NR		8
#define R_ARGS		16	/* six arguments */
#define R_EXTRA		64	/* r12 for the clone children */
#define R_SPIN		72	/* the server's spin budget in TSC ticks */
#define R_BATCH		128	/* a batch's entries: number and six arguments */
#define BATCH_ENTRY	56
#define NR_BATCH	0x10000	/* R_NR of a batch, R_EXTRA its length */
#define P_SEQ		0
#define P_SENTRY_SLEEP	4
#define P_RET		8
#define P_SERVER_SLEEP	16

/* Data page. */
#define D_FPROG		0	/* struct sock_fprog of the app-thread filter */
#define D_EMPTYMASK	16
#define D_REGIONSIZE	24
#define D_SHAREDFD	32
#define D_MAGIC		40	/* a value of the platform's own (T_MAGIC) */
#define D_NOFSGS	48	/* nonzero: the host does not give user space
			 * FSGSBASE; the bases are set with arch_prctl */
#define D_SERVER_WAIT	64	/* struct timespec: the server's longest sleep */
#define D_VIEWS		80	/* syscall patching's read-only views of the shared
			 * file (the pointer table, the Go view): address,
			 * length, offset each; a length of 0 ends them */

/* SPIN_WHILE word, value, done: spin with PAUSE while the 32-bit word
 * equals value, for at most r12 ticks of the time-stamp counter (r12 not
 * 0), and jump to done as soon as it differs. Clobbers rax, rdx, r13. */
.macro SPIN_WHILE word, value, done
	rdtsc
	shl	$32, %rdx
	or	%rdx, %rax
	lea	(%rax,%r12), %r13
88:	cmpl	\value, \word
	jne	\done
	pause
	rdtsc
	shl	$32, %rdx
	or	%rdx, %rax
	cmp	%r13, %rax
	jb	88b
.endm

/* CREG_TO_FRAME i, j copies word i of T_CREGS (rbx = state page) to
 * register j of a frame's sigcontext (r9 = its ucontext); clobbers rax. */
.macro CREG_TO_FRAME i, j
	mov	T_CREGS+\i*8(%rbx), %rax
	mov	%rax, 40+\j*8(%r9)
.endm

#define SYS_mmap		9
#define SYS_rt_sigprocmask	14
#define SYS_rt_sigreturn	15
#define SYS_clone		56
#define SYS_exit		60
#define SYS_sigaltstack		131
#define SYS_prctl		157
#define SYS_arch_prctl		158
#define ARCH_SET_GS		0x1001
#define ARCH_SET_FS		0x1002
#define SYS_futex		202
#define SYS_seccomp		317
#define SIGCHLD			17
#define CLONE_THREAD		0x10000

	.text
	.globl stub_start
stub_start:

/* Injection point, used only while the pre-made stub is set up under
 * ptrace (the tracer sets registers here and continues to the int3). */
	.globl inject_syscall, inject_trap
inject_syscall:
	syscall
inject_trap:
	int3

/*
 * handler(signo %edi, siginfo *%rsi, ucontext *%rdx), on the thread's
 * alternate stack with every signal blocked. It publishes the frame in the
 * state page, wakes the sentry, waits for it and returns to the
 * application through rt_sigreturn (the sentry edits the frame).
 */
	.globl handler
	.p2align 4
handler:
	mov	%rsp, %rbx
	and	$~(SLOT_SIZE-1), %rbx
	cmp	$SIGCHLD, %edi
	jne	1f
	/* An interrupt while the patch trampoline enters the sentry, waits
	 * or traps out is ignored: the sentry is about to see the thread
	 * anyway. One in the trampoline's return finishes the return in the
	 * frame (the registers are in T_PREGS, T_CREGS and T_RAX, fs in
	 * T_FSBASE) and parks as an interrupt of the application. */
	cmpl	$0, T_INTRAMP(%rbx)
	jne	handler_return
	mov	40+16*8(%rdx), %rax	/* uc_mcontext.rip */
	lea	.Lpatch_entry(%rip), %rcx
	sub	%rcx, %rax
	cmp	$(.Lpatch_end-.Lpatch_entry), %rax
	jae	1f
	cmp	$(.Lpatch_tail-.Lpatch_entry), %rax
	jb	handler_return
	mov	%rsi, %r8
	mov	%rdx, %r9
	lea	40(%rdx), %rdi		/* uc_mcontext, in T_PREGS's order */
	lea	T_PREGS(%rbx), %rsi
	mov	$18, %ecx
	cld
	rep movsq
	mov	T_RAX(%rbx), %rax
	mov	%rax, 40+13*8(%r9)	/* uc_mcontext.rax */
	CREG_TO_FRAME 0, 11	/* rbx */
	CREG_TO_FRAME 1, 10	/* rbp */
	CREG_TO_FRAME 2, 4	/* r12 */
	CREG_TO_FRAME 3, 5	/* r13 */
	CREG_TO_FRAME 4, 6	/* r14 */
	CREG_TO_FRAME 5, 7	/* r15 */
	CREG_TO_FRAME 6, 3	/* r11 */
	CREG_TO_FRAME 7, 17	/* eflags */
	movl	$SIGCHLD, T_SIGNO(%rbx)
	mov	%r9, T_UCTX(%rbx)
	mov	%r8, T_INFO(%rbx)
	jmp	2f
1:	mov	%edi, T_SIGNO(%rbx)
	mov	%rdx, T_UCTX(%rbx)
	mov	%rsi, T_INFO(%rbx)
	/* Without FSGSBASE the application cannot change its bases but
	 * through the sentry (arch_prctl): T_FSBASE and T_GSBASE still hold
	 * them. */
	cmpl	$0, data+D_NOFSGS(%rip)
	jne	6f
	rdfsbase %rax
	mov	%rax, T_FSBASE(%rbx)
2:	cmpl	$0, data+D_NOFSGS(%rip)
	jne	6f
	rdgsbase %rax
	mov	%rax, T_GSBASE(%rbx)
6:	call	handler_park
	cmpl	$ST_RUN, T_STATE(%rbx)
	jne	handler_die
	call	set_fsbase
	call	set_gsbase
handler_return:
	add	$8, %rsp		/* rt_sigreturn finds the frame at rsp-8 */
	mov	$SYS_rt_sigreturn, %eax
	.globl handler_sigreturn
handler_sigreturn:
	syscall
	ud2
handler_die:
	cmpl	$ST_RESET, T_STATE(%rbx)
	je	handler_reset
	xor	%edi, %edi		/* told to exit (or the state is gone) */
	mov	$SYS_exit, %eax
	.globl handler_exit
handler_exit:
	syscall
	ud2

/*
 * handler_reset: told to reset (ST_RESET) while parked in the handler or
 * the patch trampoline, the thread of a released address space leaves
 * nothing of its program behind and parks again as a new thread does
 * (thread_park), for the stub's next address space (recycle in
 * ../systrap.go). rbx = state page.
 *
 * It zeroes its slot but the three words the two sides keep (T_STATE and
 * the sleep flags): the program's frames and registers on the alternate
 * stack, the trampoline's saved registers, whatever it wrote there. It
 * clears the fs and gs bases, and returns through rt_sigreturn to a frame
 * of its own, which sets what the application could have changed with a
 * forged frame of its own: the alternate stack (the slot's again), the
 * signal mask (empty) and the FP state (none: the kernel's initial one),
 * with a stack pointer in the state page, off the alternate stack as
 * rt_sigreturn requires to set it. The sentry checks the new frame at
 * thread_park, written by the kernel, for all of that: a thread that got
 * there another way (a return address the program planted) does not pass.
 */
handler_reset:
	movl	$0, T_SIGNO(%rbx)
	lea	T_UCTX(%rbx), %rdi
	xor	%eax, %eax
	mov	$(SLOT_SIZE-T_UCTX)/8, %ecx
	cld
	rep stosq			/* the stack it runs on too: no stack use */
	mov	%rbx, T_SELF(%rbx)
	mov	data+D_MAGIC(%rip), %rcx
	mov	%rcx, T_MAGIC(%rbx)
	cmpl	$0, data+D_NOFSGS(%rip)
	jne	1f
	wrfsbase %rax
	wrgsbase %rax
	jmp	2f
	/* Without FSGSBASE the old bases stay until the next task's first
	 * return sets its own: no base matches BASE_UNKNOWN. */
1:	movabs	$BASE_UNKNOWN, %rcx
	mov	%rcx, T_FSCUR(%rbx)
	mov	%rcx, T_GSCUR(%rbx)
2:	lea	T_RESET_UC(%rbx), %rdi
	lea	PAGE(%rbx), %rax
	mov	%rax, 16(%rdi)		/* uc_stack.ss_sp; ss_flags 0 */
	movq	$(SLOT_SIZE-PAGE), 32(%rdi)	/* uc_stack.ss_size */
	lea	T_RESET_SP(%rbx), %rax
	mov	%rax, 40+15*8(%rdi)	/* uc_mcontext.rsp */
	lea	.Lthread_park(%rip), %rax
	mov	%rax, 40+16*8(%rdi)	/* uc_mcontext.rip */
	mov	$0x002b000000000033, %rax
	mov	%rax, 40+18*8(%rdi)	/* cs 0x33, ss 0x2b */
	lea	-8(%rdi), %rsp		/* handler_return adds 8 */
	jmp	handler_return

/*
 * set_fsbase and set_gsbase give the thread the fs and gs bases in
 * T_FSBASE and T_GSBASE (the sentry's). With FSGSBASE that is a wrfsbase;
 * without it an arch_prctl, made only when the base differs from the one
 * the thread has (T_FSCUR, T_GSCUR), which changes only when a task sets
 * its base or another task takes the thread. rbx = state page; they
 * clobber rax, rcx, rdi, rsi, r11 and the flags.
 */
set_fsbase:
	mov	T_FSBASE(%rbx), %rsi
	cmpl	$0, data+D_NOFSGS(%rip)
	jne	1f
	wrfsbase %rsi
	ret
1:	cmp	%rsi, T_FSCUR(%rbx)
	je	2f
	mov	$ARCH_SET_FS, %edi
	mov	$SYS_arch_prctl, %eax
	.globl set_fs_syscall
set_fs_syscall:
	syscall
	test	%rax, %rax
	jnz	2f
	mov	%rsi, T_FSCUR(%rbx)
2:	ret

set_gsbase:
	mov	T_GSBASE(%rbx), %rsi
	cmpl	$0, data+D_NOFSGS(%rip)
	jne	1f
	wrgsbase %rsi
	ret
1:	cmp	%rsi, T_GSCUR(%rbx)
	je	2f
	mov	$ARCH_SET_GS, %edi
	mov	$SYS_arch_prctl, %eax
	.globl set_gs_syscall
set_gs_syscall:
	syscall
	test	%rax, %rax
	jnz	2f
	mov	%rsi, T_GSCUR(%rbx)
2:	ret

/*
 * handler_park publishes an event (state EVENT), wakes the sentry if it
 * sleeps and waits until the sentry changes the state. rbx = state page;
 * it clobbers rax, rcx, rdx, rsi, rdi, r10, r11, r12, r13. Both the signal
 * handler and the patch trampoline park here, so that the futex calls
 * come from the same two instructions.
 */
handler_park:
	mov	$ST_EVENT, %eax
	xchg	%eax, T_STATE(%rbx)
	mov	T_SPIN(%rbx), %r12d
	cmpl	$0, T_SENTRY_SLEEP(%rbx)
	je	1f
	/* The sentry sleeps: its answer comes after its wake-up, which
	 * T_SPIN_WOKE allows for. */
	mov	T_SPIN_WOKE(%rbx), %r12d
	mov	%rbx, %rdi
	mov	$1, %esi		/* FUTEX_WAKE */
	mov	$1, %edx
	mov	$SYS_futex, %eax
	.globl handler_wake
handler_wake:
	syscall
	/* Spin until the sentry answers or the time-stamp counter passes
	 * now + r12d (ticks; the sentry sets T_SPIN and T_SPIN_WOKE per
	 * hand-off, 0: sleep at once), then sleep. */
1:	test	%r12d, %r12d
	jz	7f
	SPIN_WHILE T_STATE(%rbx), $ST_EVENT, 5f
7:	mov	$1, %eax
	xchg	%eax, T_STUB_SLEEP(%rbx)
3:	cmpl	$ST_EVENT, T_STATE(%rbx)
	jne	4f
	mov	%rbx, %rdi
	xor	%esi, %esi		/* FUTEX_WAIT */
	mov	$ST_EVENT, %edx
	xor	%r10d, %r10d
	mov	$SYS_futex, %eax
	.globl handler_wait
handler_wait:
	syscall
	jmp	3b
4:	movl	$0, T_STUB_SLEEP(%rbx)
5:	ret

/*
 * The server loop: the main thread of each stub process. rbx = region,
 * r14 = response page, r15d = sequence number of the last request done.
 * All signals but SIGTRAP are blocked, so any fault here kills the process.
 *
 * With no request pending it spins on R_SEQ for R_SPIN ticks (the budget
 * of the last request: requests come in bursts, and a sleeping server
 * costs each one a wake-up), then sets P_SERVER_SLEEP and sleeps on
 * R_SEQ; the sentry wakes it only when that flag is set. The flag is in
 * memory the application can write: a server whose flag it cleared is
 * not woken, so it sleeps at most D_SERVER_WAIT (a second) and looks
 * again, and the application's own requests wait that long, no more.
 */
	.globl server_loop
	.p2align 4
server_loop:
	mov	R_SEQ(%rbx), %eax
	cmp	%eax, %r15d
	jne	1f
	mov	R_SPIN(%rbx), %r12d
	test	%r12d, %r12d
	jz	7f
	SPIN_WHILE R_SEQ(%rbx), %r15d, server_loop
7:	mov	$1, %eax
	xchg	%eax, P_SERVER_SLEEP(%r14)
	mov	R_SEQ(%rbx), %eax
	cmp	%eax, %r15d
	jne	8f
	mov	%rbx, %rdi
	xor	%esi, %esi		/* FUTEX_WAIT */
	mov	%r15d, %edx
	lea	data+D_SERVER_WAIT(%rip), %r10
	mov	$SYS_futex, %eax
	.globl server_wait
server_wait:
	syscall
8:	movl	$0, P_SERVER_SLEEP(%r14)
	jmp	server_loop
1:	mov	%eax, %r15d
	mov	R_NR(%rbx), %rax
	cmp	$NR_BATCH, %rax
	jne	3f
	/* A batch (mmap and munmap only): r12 = entries left, r13 = the
	 * next one; each runs from server_syscall, whose filter rules
	 * apply, until one fails. */
	mov	R_EXTRA(%rbx), %r12
	lea	R_BATCH(%rbx), %r13
9:	test	%r12, %r12
	jz	8f
	mov	0(%r13), %rax
	mov	8(%r13), %rdi
	mov	16(%r13), %rsi
	mov	24(%r13), %rdx
	mov	32(%r13), %r10
	mov	40(%r13), %r8
	mov	48(%r13), %r9
	jmp	server_syscall
3:	mov	R_ARGS+0(%rbx), %rdi
	mov	R_ARGS+8(%rbx), %rsi
	mov	R_ARGS+16(%rbx), %rdx
	mov	R_ARGS+24(%rbx), %r10
	mov	R_ARGS+32(%rbx), %r8
	mov	R_ARGS+40(%rbx), %r9
	mov	R_EXTRA(%rbx), %r12
	mov	%rax, %r13
	.globl server_syscall
server_syscall:
	syscall
	/* r13 first: a clone child must not read the request page, which
	 * the sentry may already have rewritten (in a batch r13 is an
	 * address, never SYS_clone). */
	cmp	$SYS_clone, %r13
	je	5f
	cmpq	$NR_BATCH, R_NR(%rbx)
	je	7f
	jmp	2f
5:	test	%rax, %rax
	jnz	2f
	test	$CLONE_THREAD, %edi
	jnz	thread_init
	jmp	fork_init
7:	cmp	$-4095, %rax
	jae	2f			/* an entry failed: its error */
	add	$BATCH_ENTRY, %r13
	dec	%r12
	jmp	9b
8:	xor	%eax, %eax
2:	mov	%rax, P_RET(%r14)
	mov	%r15d, %eax
	xchg	%eax, P_SEQ(%r14)
	cmpl	$0, P_SENTRY_SLEEP(%r14)
	je	server_loop
	mov	%r14, %rdi
	mov	$1, %esi		/* FUTEX_WAKE */
	mov	$1, %edx
	mov	$SYS_futex, %eax
	.globl server_wake
server_wake:
	syscall
	jmp	server_loop

/*
 * A new stub process (fork of the pre-made stub): r12 = offset of its
 * region in the shared file. Signals are still blocked.
 */
fork_init:
	mov	$1, %edi		/* PR_SET_PDEATHSIG */
	mov	$9, %esi		/* SIGKILL */
	mov	$SYS_prctl, %eax
	.globl fork_prctl
fork_prctl:
	syscall
	test	%rax, %rax
	jnz	die
	mov	%rbx, %rdi
	mov	data+D_REGIONSIZE(%rip), %rsi
	mov	$3, %edx		/* PROT_READ|PROT_WRITE */
	mov	$0x11, %r10d		/* MAP_SHARED|MAP_FIXED */
	mov	data+D_SHAREDFD(%rip), %r8
	mov	%r12, %r9
	mov	$SYS_mmap, %eax
	.globl fork_mmap_rw
fork_mmap_rw:
	syscall
	cmp	%rax, %rbx
	jne	die
	mov	$PAGE, %esi
	mov	$1, %edx		/* PROT_READ: the request page */
	mov	$SYS_mmap, %eax
	.globl fork_mmap_ro
fork_mmap_ro:
	syscall
	cmp	%rax, %rbx
	jne	die
	lea	data+D_VIEWS(%rip), %r13	/* r10 and r8 as above */
2:	mov	8(%r13), %rsi
	test	%rsi, %rsi
	jz	1f
	mov	(%r13), %rdi
	mov	$1, %edx		/* PROT_READ: syscall patching's pointers */
	mov	16(%r13), %r9
	mov	$SYS_mmap, %eax
	.globl fork_mmap_ptr
fork_mmap_ptr:
	syscall
	cmp	%rax, (%r13)
	jne	die
	add	$24, %r13
	jmp	2b
1:	xor	%r15d, %r15d
	jmp	server_loop

/*
 * A new application thread: r12 = its slot. It sets its alternate stack,
 * unblocks signals, adds the application-thread filter and parks in the
 * handler through an int3 at thread_park (not a ud2: in a VM a #UD
 * is a VM exit, 13 us here, an int3 1.7 us).
 */
thread_init:
	lea	PAGE(%r12), %rax
	mov	%rax, T_ALTSTACK(%r12)
	movq	$0, T_ALTSTACK+8(%r12)
	movq	$(SLOT_SIZE-PAGE), T_ALTSTACK+16(%r12)
	lea	T_ALTSTACK(%r12), %rdi
	xor	%esi, %esi
	mov	$SYS_sigaltstack, %eax
	.globl thread_sigaltstack
thread_sigaltstack:
	syscall
	test	%rax, %rax
	jnz	die
	mov	$2, %edi		/* SIG_SETMASK */
	lea	data+D_EMPTYMASK(%rip), %rsi
	xor	%edx, %edx
	mov	$8, %r10d
	mov	$SYS_rt_sigprocmask, %eax
	.globl thread_sigprocmask
thread_sigprocmask:
	syscall
	test	%rax, %rax
	jnz	die
	mov	$1, %edi		/* SECCOMP_SET_MODE_FILTER */
	xor	%esi, %esi
	lea	data+D_FPROG(%rip), %rdx
	mov	$SYS_seccomp, %eax
	.globl thread_seccomp
thread_seccomp:
	syscall
	test	%rax, %rax
	jnz	die
	.globl thread_park
thread_park:
.Lthread_park:
	int3

/* Set-up failure: with signals blocked, the forced SIGILL kills. */
	.globl die
die:
	ud2


/*
 * ---- Syscall patching (../patch.go) ----
 *
 * A patched site "mov $NR, %eax; syscall" became "jmp *PTR(,1)" (ff 24 25
 * disp32): PTR is its entry of the pointer table, mapped read-only at a low
 * address, which points to its thunk (generated after this code by the
 * sentry: "mov $site, %eax; jmp patch_entry"). Nothing here writes below
 * the application's rsp.
 *
 * patch_entry: eax = site index; rcx and r11 are free (a syscall clobbers
 * them); every other register and the flags are the application's. If gs
 * is not this thread's state page (the application set its own gs base),
 * the flags-preserving check fails (or the probe faults) and the sentry
 * handles the trap at patch_slow/patch_probe as the site's syscall. The
 * check compares %gs:T_MAGIC with the platform's magic (D_MAGIC), a
 * random value no program's own gs block holds there by chance; it needs
 * no rdgsbase, which hosts without FSGSBASE lack. (A program that copies
 * the magic to its own gs block breaks only its own patched syscalls.)
 */
/* rax, which changes at every call (the site index in, the result out),
 * is not in T_PREGS but in T_RAX, on the cache line of T_STATE: a round
 * trip then moves one cache line each way between the two CPUs, not two.
 * SAVE reg, i stores reg as register i of T_PREGS unless it holds it
 * already (it clobbers the flags): a word the sentry reads but nobody
 * rewrote stays in both CPUs' caches, where a store would move its cache
 * line to this CPU and back to the sentry's.
 * The registers a program keeps across calls (rbx, rbp, r12-r15: loop
 * counters, pointers) and the flags change between most syscalls, and no
 * syscall reads them, so they go to T_CREGS, a line of their own that
 * the sentry reads only when it needs the whole register set (PullRegs),
 * with r11 as the syscall leaves it (the flags): a syscall's round trip
 * does not move that line, nor wait for it. */
.macro SAVE reg, i
	cmp	\reg, %gs:T_PREGS+\i*8
	je	9f
	mov	\reg, %gs:T_PREGS+\i*8
9:
.endm

	.globl patch_entry
	.p2align 4
patch_entry:
.Lpatch_entry:
	mov	data+D_MAGIC(%rip), %r11
	.globl patch_probe
patch_probe:
	mov	%gs:T_MAGIC, %rcx
	not	%r11
	lea	1(%rcx,%r11), %rcx	/* T_MAGIC - D_MAGIC, without flags */
	jrcxz	1f
	.globl patch_slow
patch_slow:
	ud2
	/* The dynamic thunks (dyn_thunk) enter here, after their own check. */
	.globl patch_checked
patch_checked:
1:	movl	$1, %gs:T_INTRAMP
	mov	%rsp, %rcx
	mov	%gs:T_SELF, %rsp
	lea	SLOT_SIZE(%rsp), %rsp	/* the top of the alternate stack */
	pushfq
	pop	%r11
	mov	%r11, %gs:T_CREGS+48	/* r11 after a syscall: the flags */
	mov	%r11, %gs:T_CREGS+56
	SAVE	%rcx, 15
	SAVE	%r8, 0
	SAVE	%r9, 1
	SAVE	%r10, 2
	SAVE	%rdi, 8
	SAVE	%rsi, 9
	SAVE	%rdx, 12
	mov	%rbx, %gs:T_CREGS+0
	mov	%rbp, %gs:T_CREGS+8
	mov	%r12, %gs:T_CREGS+16
	mov	%r13, %gs:T_CREGS+24
	mov	%r14, %gs:T_CREGS+32
	mov	%r15, %gs:T_CREGS+40
	mov	%rax, %gs:T_RAX
	cmpl	$0, data+D_NOFSGS(%rip)	/* the flags are saved */
	jne	3f
	rdfsbase %rax
	cmp	%rax, %gs:T_FSBASE
	je	3f
	mov	%rax, %gs:T_FSBASE
3:
	cmpl	$0, %gs:T_SIGNO		/* 0: a patched syscall (written */
	je	4f			/* only if not: see T_RAX) */
	movl	$0, %gs:T_SIGNO
4:
	mov	%gs:T_SELF, %rbx
	call	handler_park
	cmpl	$ST_RUN, T_STATE(%rbx)
	je	2f
	cmpl	$ST_TRAP, T_STATE(%rbx)
	jne	handler_die
	/* The sentry wants a signal frame (FP state, gs base): restore
	 * everything and trap here; the handler publishes the frame. */
	call	set_fsbase
	movl	$0, T_INTRAMP(%rbx)
	pushq	T_CREGS+56(%rbx)
	popfq
	mov	T_PREGS+0*8(%rbx), %r8
	mov	T_PREGS+1*8(%rbx), %r9
	mov	T_PREGS+2*8(%rbx), %r10
	mov	T_CREGS+48(%rbx), %r11
	mov	T_CREGS+16(%rbx), %r12
	mov	T_CREGS+24(%rbx), %r13
	mov	T_CREGS+32(%rbx), %r14
	mov	T_CREGS+40(%rbx), %r15
	mov	T_PREGS+8*8(%rbx), %rdi
	mov	T_PREGS+9*8(%rbx), %rsi
	mov	T_CREGS+8(%rbx), %rbp
	mov	T_PREGS+12*8(%rbx), %rdx
	mov	T_RAX(%rbx), %rax
	mov	T_PREGS+14*8(%rbx), %rcx
	mov	T_PREGS+15*8(%rbx), %rsp
	mov	T_CREGS+0(%rbx), %rbx
	.globl patch_trap
patch_trap:
	int3			/* not ud2: see thread_park */
2:
.Lpatch_tail:
	call	set_fsbase
	movl	$0, T_INTRAMP(%rbx)
	pushq	T_CREGS+56(%rbx)
	popfq
	mov	T_PREGS+0*8(%rbx), %r8
	mov	T_PREGS+1*8(%rbx), %r9
	mov	T_PREGS+2*8(%rbx), %r10
	mov	T_CREGS+48(%rbx), %r11
	mov	T_CREGS+16(%rbx), %r12
	mov	T_CREGS+24(%rbx), %r13
	mov	T_CREGS+32(%rbx), %r14
	mov	T_CREGS+40(%rbx), %r15
	mov	T_PREGS+8*8(%rbx), %rdi
	mov	T_PREGS+9*8(%rbx), %rsi
	mov	T_CREGS+8(%rbx), %rbp
	mov	T_PREGS+12*8(%rbx), %rdx
	mov	T_RAX(%rbx), %rax
	mov	T_PREGS+14*8(%rbx), %rcx
	mov	T_PREGS+15*8(%rbx), %rsp
	mov	T_CREGS+0(%rbx), %rbx
	jmp	*%gs:T_PREGS+16*8
	.globl patch_end
patch_end:
.Lpatch_end:

/*
 * The template of a dynamic site's thunk, never run here: writeThunks
 * (../patch.go) copies it once per dynamic index, setting the index at
 * dyn_thunk_imm+1, the jump at dyn_thunk_jmp+1 and the magic's
 * displacement at dyn_thunk_moved+3. A dynamic site is
 * "mov 0x8(%rsp), %r9; syscall" (glibc's syscall(2)), whose number is
 * in rax, not in the code: the thunk runs the site's mov, keeps the
 * number in r11 (rcx and r11 are the syscall's to clobber), checks the
 * gs base as patch_entry does (each thunk has its own probe and ud2, so
 * the sentry knows the site from rip alone: rax is no longer the number
 * there, r11 is), stores the number in T_NR and enters the trampoline
 * with the index in eax. None of it changes the flags.
 */
	.globl dyn_thunk
dyn_thunk:
	mov	0x8(%rsp), %r9
	.globl dyn_thunk_body
dyn_thunk_body:
	mov	%rax, %r11
	.globl dyn_thunk_moved
dyn_thunk_moved:
	mov	data+D_MAGIC(%rip), %rax	/* writeDynThunk relocates it */
	.globl dyn_thunk_probe
dyn_thunk_probe:
	mov	%gs:T_MAGIC, %rcx
	not	%rax
	lea	1(%rcx,%rax), %rcx
	jrcxz	1f
	.globl dyn_thunk_slow
dyn_thunk_slow:
	ud2
1:	mov	%r11, %gs:T_NR
	.globl dyn_thunk_imm
dyn_thunk_imm:
	.byte	0xb8		/* mov $index, %eax */
	.long	0
	.globl dyn_thunk_jmp
dyn_thunk_jmp:
	.byte	0xe9		/* jmp patch_checked */
	.long	0
	.globl dyn_thunk_end
dyn_thunk_end:

	.globl stub_end
stub_end:

	.org	PAGE

data:
	.org	2*PAGE
