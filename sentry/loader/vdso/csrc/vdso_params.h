/*
 * The vDSO parameter page ("[vvar]"): written by the sentry (package vdso,
 * params.go, which must agree with this layout), read by the vDSO.
 *
 * Time on a served clock is
 *     base_ns[clock] + ((tsc - tsc_base) * mult) >> shift
 * read under the seqlock seq (odd while the sentry is writing).
 */
#ifndef RAMPART_VDSO_PARAMS_H
#define RAMPART_VDSO_PARAMS_H

#include <stdint.h>

#define VDSO_FLAG_TSC 1u /* the TSC fields are valid; else use syscalls */

#define VDSO_GETCPU_ZERO   0u /* getcpu reports CPU 0 */
#define VDSO_GETCPU_RDPID  1u
#define VDSO_GETCPU_RDTSCP 2u

#define VDSO_NCLOCKS 16

struct vdso_params {
	uint32_t seq;           /*  0 */
	uint32_t flags;         /*  4 */
	uint64_t tsc_base;      /*  8 */
	uint64_t mult;          /* 16 */
	uint32_t shift;         /* 24 */
	uint32_t clock_mask;    /* 28: bit n set if clock id n is served */
	uint64_t coarse_res_ns; /* 32 */
	uint32_t ncpus;         /* 40 */
	uint32_t getcpu_mode;   /* 44 */
	uint64_t base_ns[VDSO_NCLOCKS]; /* 48 */
};

#endif
