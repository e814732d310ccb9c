#!/bin/sh
# Builds Rampart's vDSO from vdso.c into $1 (default: ../vdso.so, the blob
# that package vdso embeds). The output is reproducible for a given
# gcc/binutils: no build-id, no .comment, fixed flags, relative names.
set -eu
cd "$(dirname "$0")"
out="${1:-../vdso.so}"
CC="${CC:-gcc}"
"$CC" -O2 -fPIC -nostdlib -shared -ffreestanding -fno-stack-protector \
	-fno-ident -fno-common -fcf-protection=none -fno-plt \
	-Wall -Wextra -Werror \
	-Wl,--hash-style=both -Wl,-soname=linux-vdso.so.1 \
	-Wl,--version-script=vdso.map -Wl,-T,vdso.lds \
	-Wl,--build-id=none -Wl,--eh-frame-hdr \
	-Wl,-z,max-page-size=4096 -Wl,-z,common-page-size=4096 \
	-Wl,-z,noexecstack -Wl,-Bsymbolic -Wl,--no-undefined \
	-o "$out" vdso.c
