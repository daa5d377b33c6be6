/* Process entry for our static guests. The kernel (or the simulator) enters here with
   rsp -> argc, argv[0..argc-1], NULL, envp..., NULL, auxv. No libc init is needed. */
	.text
	.globl	_start
	.type	_start, @function
_start:
	xor	%ebp, %ebp		/* outermost frame, for debuggers */
	mov	(%rsp), %edi		/* argc */
	lea	8(%rsp), %rsi		/* argv */
	and	$-16, %rsp		/* SysV ABI: 16-byte aligned before the call */
	call	main
	mov	%eax, %edi		/* main's return value is the exit status */
	mov	$231, %eax		/* exit_group */
	syscall
	ud2				/* not reached */
	.size	_start, . - _start

	.section .note.GNU-stack, "", @progbits
