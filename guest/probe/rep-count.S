/* How does valgrind count rep-prefixed string instructions and syscalls? Built with
   -DOP=<instruction> -DREPS=<rcx> -DCALLS=<getpid calls>; run.mjs compares the counts. */
#ifndef OP
#define OP rep movsb
#endif
	.text
	.globl	_start
_start:
	lea	buf(%rip), %rsi
	lea	buf+4096(%rip), %rdi
	mov	$REPS, %ecx
	xor	%eax, %eax
	OP
	.rept	CALLS
	mov	$39, %eax		/* getpid */
	syscall
	.endr
	xor	%edi, %edi
	mov	$231, %eax		/* exit_group */
	syscall

	.bss
buf:	.zero	16384

	.section .note.GNU-stack, "", @progbits
