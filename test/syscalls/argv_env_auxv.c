/*
 * argv_env_auxv: the initial process stack the loader builds: argc, argv and
 * envp in place, strings above them, and an auxiliary vector whose values are
 * Linux's.
 */
// rampart:args a b "c d"
// rampart:env FOO=bar EMPTY=
#include "check.h"

#include <elf.h>
#include <link.h>
#include <stdint.h>
#include <sys/auxv.h>
#include <unistd.h>

extern const ElfW(Ehdr) __ehdr_start;
extern char _start[];

/* Auxiliary vector entry types that older headers may lack. */
#ifndef AT_MINSIGSTKSZ
#define AT_MINSIGSTKSZ 51
#endif

int main(int argc, char **argv, char **envp)
{
	volatile char here = 0;
	uintptr_t sp = (uintptr_t)&here;

	/* argc, argv and the environment as the runner passed them. */
	printf("argc=%d\n", argc);
	for (int i = 1; i < argc; i++)
		printf("argv[%d]=%s\n", i, argv[i]);
	printf("FOO=%s\n", getenv("FOO") ? getenv("FOO") : "(unset)");
	printf("EMPTY=%s\n", getenv("EMPTY") ? getenv("EMPTY") : "(unset)");
	printf("UNSET=%s\n", getenv("RAMPART_SURELY_UNSET") ? "(set)" : "(unset)");
	CHECK_EQ("argv[argc] is NULL", argv[argc], 0);
	int foo = 0, nenv = 0;
	for (char **e = envp; *e; e++, nenv++)
		if (strcmp(*e, "FOO=bar") == 0)
			foo++;
	CHECK_EQ("envp holds FOO=bar once", foo, 1);

	/* The initial stack: [argc][argv...][NULL][envp...][NULL][auxv...], with
	 * the stack pointer 16-byte aligned at argc. */
	long *argcp = (long *)argv - 1;
	CHECK_EQ("argc sits just below argv", *argcp, argc);
	CHECK_EQ("initial sp (at argc) is 16-byte aligned", (uintptr_t)argcp & 15, 0);
	CHECK("envp follows argv's NULL", envp == argv + argc + 1);
	CHECK_EQ("frame of main is 16-byte aligned",
		 (uintptr_t)__builtin_frame_address(0) & 15, 0);
	CHECK("argv array is above the stack pointer", (uintptr_t)argv > sp);

	int contiguous = 1, above = 1;
	for (int i = 0; i < argc; i++) {
		if ((uintptr_t)argv[i] <= (uintptr_t)(envp + nenv))
			above = 0;
		if (i + 1 < argc && argv[i + 1] != argv[i] + strlen(argv[i]) + 1)
			contiguous = 0;
	}
	for (int i = 0; i < nenv; i++) {
		if ((uintptr_t)envp[i] <= (uintptr_t)(envp + nenv))
			above = 0;
		if (i + 1 < nenv && envp[i + 1] != envp[i] + strlen(envp[i]) + 1)
			contiguous = 0;
	}
	CHECK("argv and env strings lie above the pointer arrays", above);
	CHECK("argv strings are contiguous, then env strings", contiguous &&
	      (nenv == 0 || envp[0] == argv[argc - 1] + strlen(argv[argc - 1]) + 1));

	/* Walk the auxiliary vector ourselves and compare with getauxval. */
	char **e = envp;
	while (*e)
		e++;
	ElfW(auxv_t) *auxv = (ElfW(auxv_t) *)(e + 1);
	int n = 0, pagesz_seen = 0, null_ok = 0;
	for (ElfW(auxv_t) *a = auxv; n < 256; a++, n++) {
		if (a->a_type == AT_NULL) {
			null_ok = 1;
			break;
		}
		if (a->a_type == AT_PAGESZ && a->a_un.a_val == getauxval(AT_PAGESZ))
			pagesz_seen = 1;
	}
	CHECK("auxv follows envp and ends in AT_NULL", null_ok);
	CHECK("auxv walk agrees with getauxval(AT_PAGESZ)", pagesz_seen);

	CHECK_EQ("AT_PAGESZ", getauxval(AT_PAGESZ), 4096);
	CHECK_EQ("AT_PHENT", getauxval(AT_PHENT), sizeof(ElfW(Phdr)));

	/* Program headers: AT_PHDR/AT_PHNUM describe this executable. */
	const ElfW(Ehdr) *eh = &__ehdr_start;
	const ElfW(Phdr) *ph = (const ElfW(Phdr) *)((const char *)eh + eh->e_phoff);
	CHECK_EQ("AT_PHDR is this program's headers", getauxval(AT_PHDR), (uintptr_t)ph);
	CHECK_EQ("AT_PHNUM", getauxval(AT_PHNUM), eh->e_phnum);

	uintptr_t bias = 0;
	int interp = 0, found_load = 0;
	for (int i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type == PT_INTERP)
			interp = 1;
		if (ph[i].p_type == PT_LOAD && !found_load) {
			bias = (uintptr_t)eh - (ph[i].p_vaddr - ph[i].p_offset);
			found_load = 1;
		}
	}
	printf("type=%s interp=%s\n", eh->e_type == ET_DYN ? "ET_DYN" : "ET_EXEC",
	       interp ? "yes" : "no");
	CHECK("a PT_LOAD maps the ELF header", found_load);
	CHECK_EQ("ET_EXEC is loaded at its link address", eh->e_type == ET_EXEC ? bias : 0, 0);
	CHECK_EQ("AT_ENTRY is _start", getauxval(AT_ENTRY), (uintptr_t)_start);
	CHECK_EQ("AT_ENTRY is e_entry plus the load bias", getauxval(AT_ENTRY), eh->e_entry + bias);
	CHECK_EQ("AT_BASE is set iff there is an interpreter", getauxval(AT_BASE) != 0, interp);
	CHECK_EQ("AT_FLAGS", getauxval(AT_FLAGS), 0);

	/* AT_RANDOM: 16 readable bytes on the stack, not all zero. */
	const unsigned char *rnd = (const unsigned char *)getauxval(AT_RANDOM);
	CHECK("AT_RANDOM is set", rnd != NULL);
	if (rnd) {
		unsigned char acc = 0;
		for (int i = 0; i < 16; i++)
			acc |= rnd[i];
		CHECK("AT_RANDOM bytes are not all zero", acc != 0);
		CHECK("AT_RANDOM is on the stack above argv", (uintptr_t)rnd > (uintptr_t)argv);
	}

	/* AT_EXECFN: the path given to execve, at the top of the stack. */
	const char *execfn = (const char *)getauxval(AT_EXECFN);
	CHECK("AT_EXECFN is set", execfn != NULL);
	if (execfn) {
		CHECK("AT_EXECFN is the path run (argv[0])", strcmp(execfn, argv[0]) == 0);
		CHECK("AT_EXECFN is above the env strings",
		      nenv == 0 || (uintptr_t)execfn > (uintptr_t)envp[nenv - 1]);
	}
	const char *plat = (const char *)getauxval(AT_PLATFORM);
	CHECK("AT_PLATFORM is x86_64", plat && strcmp(plat, "x86_64") == 0);

	/* AT_SYSINFO_EHDR: the vDSO's ELF header. */
	const ElfW(Ehdr) *vdso = (const ElfW(Ehdr) *)getauxval(AT_SYSINFO_EHDR);
	CHECK("AT_SYSINFO_EHDR is set", vdso != NULL);
	if (vdso) {
		CHECK("vDSO starts with an ELF magic", memcmp(vdso->e_ident, ELFMAG, SELFMAG) == 0);
		CHECK_EQ("vDSO is ELFCLASS64", vdso->e_ident[EI_CLASS], ELFCLASS64);
		CHECK_EQ("vDSO is ET_DYN", vdso->e_type, ET_DYN);
		CHECK_EQ("vDSO is x86-64", vdso->e_machine, EM_X86_64);
		CHECK_EQ("vDSO is page aligned", (uintptr_t)vdso & 4095, 0);
	}

	/* Credentials. */
	CHECK_EQ("AT_UID", getauxval(AT_UID), getuid());
	CHECK_EQ("AT_EUID", getauxval(AT_EUID), geteuid());
	CHECK_EQ("AT_GID", getauxval(AT_GID), getgid());
	CHECK_EQ("AT_EGID", getauxval(AT_EGID), getegid());
	CHECK_EQ("AT_SECURE", getauxval(AT_SECURE), 0);

	/* CPU and clock. */
	CHECK("AT_HWCAP is nonzero", getauxval(AT_HWCAP) != 0);
	CHECK_EQ("AT_CLKTCK", getauxval(AT_CLKTCK), 100);
	CHECK_EQ("sysconf(_SC_CLK_TCK)", sysconf(_SC_CLK_TCK), 100);
	CHECK("AT_MINSIGSTKSZ is at least 1024", getauxval(AT_MINSIGSTKSZ) >= 1024);
	return check_done();
}
