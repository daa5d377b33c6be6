/* SkyBridge's trampoline: the only code in the system that executes VMFUNC. The kernel maps
   this page read-execute at the same address (SB_TRAMPOLINE) in every client and server, so
   execution continues across the EPTP switch. Linked at that address on its own; the kernel
   takes its one loadable segment and its symbols (src/skybridge/trampoline.ts).

   Nothing here trusts a register or a word the other side can write:
   - the view the code runs in is read from the tag page (SB_TAG), which no page table lets
     user code write and whose contents differ per EPT view (the kernel remaps its
     guest-physical page in each view: src/skybridge/views.ts);
   - per-thread state is found through GS, whose base only the kernel sets (CR4.FSGSBASE is
     off, so WRGSBASE is #UD): the thread block at GS is a different page in each address
     space, so what one side writes there the other never sees;
   - every landing that does not add up ends in UD2, and the kernel unwinds the call to the
     thread's own process (src/skybridge/calls.ts).

   Client:  sb_call(rdi = server id, rsi, rdx, rcx = arguments) -> rax = status (0 or a
            negative SB_E* code), rdx = the handler's result; callee-saved registers kept.
   Server:  handler(rdi, rsi, rdx = arguments, rcx = const struct sb_call *) -> rax. */
#include "skybridge-layout.h"

/* Speculation hardening, off unless built with it (guest/build.mjs: sb-trampoline-rsb,
   sb-trampoline-verw, sb-trampoline-hardened; docs/mitigations.md has why and what it costs).
   Kernels do both on their own switches between processes; a VMFUNC switch has no kernel on
   it, so the trampoline must do them itself, and can, since neither is privileged.

   SB_RSB_FILL: after each switch, before the first RET of the side arriving, overwrite the
   return stack buffer with 32 entries that lead to a speculation trap, so no return address
   the other side pushed (or planted by calls it never returned from) steers a RET of this
   side, even speculatively (SpectreRSB, ret2spec). 32 is twice Skylake's 16 entries, as
   Zircon's x86_ras_fill and seL4's x86_flush_rsb do; the 32 addresses are dropped from the
   stack afterwards. Clobbers ECX and the flags. */
#ifdef SB_RSB_FILL
	.macro	sb_fill_rsb
	mov	$16, %ecx
1:	call	3f
2:	pause				/* never reached but speculatively: a trap */
	lfence
	jmp	2b
3:	call	5f
4:	pause
	lfence
	jmp	4b
5:	dec	%ecx
	jnz	1b
	lfence				/* no speculation past the loop before the RSB is full */
	add	$(32 * 8), %rsp
	.endm
#else
	.macro	sb_fill_rsb
	.endm
#endif
/* SB_VERW: before each VMFUNC, VERW with a memory operand: with the MD_CLEAR microcode it
   overwrites the store buffers, fill buffers and load ports, whatever the permission check
   says (Intel's MDS guidance), so the side arriving cannot sample what the side leaving
   loaded or stored (MDS), as kernels do on every return to user. The selector is the user
   data segment's, which Intel recommends for the lowest latency (a valid writable one); it
   is stored in the last word of the thread block, which nothing else uses, because that
   page is in the DTLB already (this page, as data, shares a DTLB set with the tag, binding
   and server pages, all 64 KiB-aligned, and would miss there). Changes ZF only. */
#ifdef SB_VERW
#define SB_TB_VERW_SEL 4088
	.macro	sb_clear_buffers
	movw	$0x2b, %gs:SB_TB_VERW_SEL	/* the user data segment (the Subkernel's GDT) */
	verw	%gs:SB_TB_VERW_SEL
	.endm
#else
	.macro	sb_clear_buffers
	.endm
#endif

/* Neither side may read the other's registers. The SysV ABI lets a callee find anything in
   the caller-saved ones, so each side's leftovers are cleared before the other side runs:
   the client's scratch registers (R11, the XMM registers) before the handler, the server's
   (RSI, RDI, R8, R9, the XMM registers) before the return VMFUNC. Callee-saved registers
   need nothing: the client half restores its own from its own stack. */
	.macro	sb_scrub_xmm
	pxor	%xmm0, %xmm0
	pxor	%xmm1, %xmm1
	pxor	%xmm2, %xmm2
	pxor	%xmm3, %xmm3
	pxor	%xmm4, %xmm4
	pxor	%xmm5, %xmm5
	pxor	%xmm6, %xmm6
	pxor	%xmm7, %xmm7
	pxor	%xmm8, %xmm8
	pxor	%xmm9, %xmm9
	pxor	%xmm10, %xmm10
	pxor	%xmm11, %xmm11
	pxor	%xmm12, %xmm12
	pxor	%xmm13, %xmm13
	pxor	%xmm14, %xmm14
	pxor	%xmm15, %xmm15
	.endm

	.text
	.globl	sb_call, sb_vmfunc_call, sb_server_entry, sb_handler_return, sb_vmfunc_return
	.globl	sb_client_return, sb_abort, sb_wild, sb_end

/* ---- Client half, in the caller's view ------------------------------------------------ */
sb_call:
	push	%rbx
	push	%rbp
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	cmp	$SB_MAX_SERVERS, %rdi
	jae	.Lnot_bound
	mov	%rdi, %r8
	shl	$SB_BINDING_SHIFT, %r8
	movabs	$SB_BINDINGS, %rax
	add	%rax, %r8			/* r8 = this address space's record for the server */
	mov	SB_REC_INDEX(%r8), %r9		/* its index in the thread's EPTP list */
	test	%r9, %r9
	jz	.Lnot_bound
	cmpq	$0, %gs:SB_TB_FLIGHT		/* one call at a time from one address space */
	jne	.Lreentrant
	movabs	$SB_TAG, %rax
	mov	SB_TAG_INDEX(%rax), %r14	/* the view this call leaves, to come back to */
	mov	%r14, %gs:SB_TB_FROM
	mov	%rsp, %gs:SB_TB_RSP
	mov	SB_REC_KEY(%r8), %r13
	mov	%r13, %gs:SB_TB_KEY
	mov	%rdi, %gs:SB_TB_SERVER
	mov	SB_REC_SLOT(%r8), %r12
	movq	$1, %gs:SB_TB_FLIGHT
	mov	%rcx, %r15			/* third argument; RCX carries the index */
	mov	%r9, %rcx
	sb_clear_buffers
	xor	%eax, %eax
sb_vmfunc_call:
	vmfunc					/* EPTP switch: function 0, index ECX */

/* ---- Server half, in the server's view -----------------------------------------------
   In: rsi, rdx, r15 = arguments, r12 = key slot, r13 = key, r14 = the caller's view. */
sb_server_entry:
	movabs	$SB_TAG, %r8
	mov	SB_TAG_SERVER(%r8), %r9		/* whose view this is (0: a process's own) */
	test	%r9, %r9
	jz	sb_wild
	movabs	$SB_SERVER, %r10
	cmp	SB_ST_ID(%r10), %r9
	jne	sb_wild
	mov	SB_TAG_CALLER(%r8), %rbx	/* which caller's view: unforgeable */
	cmp	$SB_MAX_CALLERS, %rbx
	jae	sb_wild
	mov	SB_FAILS(%r10,%rbx,8), %rax	/* failed key checks from this caller */
	cmp	SB_ST_LOCK(%r10), %rax
	jae	.Llocked
	cmp	$SB_MAX_SLOTS, %r12
	jae	.Lbad_key
	mov	SB_KEYS(%r10,%r12,8), %rax
	test	%rax, %rax
	jz	.Lbad_key
	cmp	%r13, %rax
	jne	.Lbad_key
.Ltake_stack:
	mov	SB_ST_BUSY(%r10), %rax
	not	%rax
	and	SB_ST_STACKS(%r10), %rax	/* free stacks */
	jz	.Lbusy
	bsf	%rax, %rbp
	lock bts %rbp, SB_ST_BUSY(%r10)		/* another core may take the same one */
	jc	.Ltake_stack
	lea	1(%rbp), %rax
	mov	%rax, %gs:SB_TB_HELD		/* for the kernel, if the call is unwound */
	shl	$SB_STACK_SHIFT, %rax
	movabs	$SB_STACKS, %rsp
	add	%rax, %rsp			/* top of stack rbp */
	sb_fill_rsb				/* before the handler's first RET */
	mov	SB_TAG_PID(%r8), %rax		/* struct sb_call, built from the server's own tables */
	push	%rax
	mov	%r12, %rax
	shl	$4, %rax
	push	SB_SLOTS+8(%r10,%rax)		/* buffer bytes */
	push	SB_SLOTS(%r10,%rax)		/* buffer */
	push	%r12
	mov	%rsi, %rdi
	mov	%rdx, %rsi
	mov	%r15, %rdx
	mov	%rsp, %rcx
	xor	%r11d, %r11d			/* the client's: see sb_scrub_xmm */
	sb_scrub_xmm
	call	*SB_ST_HANDLER(%r10)
sb_handler_return:
	mov	%rax, %rdx			/* the result */
	movabs	$SB_SERVER, %r10
	mov	%gs:SB_TB_HELD, %rbp
	movq	$0, %gs:SB_TB_HELD
	test	%rbp, %rbp
	jz	sb_wild
	dec	%rbp
	and	$63, %rbp
	lock btr %rbp, SB_ST_BUSY(%r10)
	and	$(SB_MAX_SLOTS - 1), %r12
	mov	SB_KEYS(%r10,%r12,8), %r11	/* the key again: 0 once the binding is revoked */
	xor	%r10d, %r10d			/* status */
	jmp	.Lreturn
.Lbad_key:
	lock incq SB_FAILS(%r10,%rbx,8)
	mov	$SB_EBADKEY, %r10
	jmp	.Lrefuse
.Llocked:
	mov	$SB_ELOCKED, %r10
	jmp	.Lrefuse
.Lbusy:
	mov	$SB_EBUSY, %r10
.Lrefuse:
	mov	%r13, %r11			/* the caller's own key: the refusal is genuine */
	xor	%edx, %edx
.Lreturn:
	xor	%esi, %esi			/* the server's: see sb_scrub_xmm */
	xor	%edi, %edi
	xor	%r8d, %r8d
	xor	%r9d, %r9d
	sb_scrub_xmm
	sb_clear_buffers
	mov	%r14, %rcx
	xor	%eax, %eax
sb_vmfunc_return:
	vmfunc

/* ---- Client half again, in the caller's view ------------------------------------------
   In: r10 = status, rdx = result, r11 = the server's key for the call. */
sb_client_return:
	cmpq	$1, %gs:SB_TB_FLIGHT		/* a call from this address space is in flight */
	jne	sb_wild
	movabs	$SB_TAG, %rax
	mov	SB_TAG_INDEX(%rax), %rax
	cmp	%gs:SB_TB_FROM, %rax		/* and this is the view it left */
	jne	sb_wild
	mov	%gs:SB_TB_RSP, %rsp
	movq	$0, %gs:SB_TB_FLIGHT
	sb_fill_rsb				/* before the RET to the caller */
	cmp	%gs:SB_TB_KEY, %r11		/* a return through the server's half with our key */
	jne	.Lbad_return
	mov	%r10, %rax
.Lout:
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%rbp
	pop	%rbx
	ret
.Lbad_return:
	mov	$SB_EBADRETURN, %rax
	xor	%edx, %edx
	jmp	.Lout
.Lnot_bound:
	mov	$SB_ENOTBOUND, %rax
	xor	%edx, %edx
	jmp	.Lout
.Lreentrant:
	mov	$SB_EREENTRANT, %rax
	xor	%edx, %edx
	jmp	.Lout

/* The kernel unwound a call (the server faulted, died, overran its budget, was revoked, or
   a landing did not add up): it resumes the thread here in its own view with rdi = status. */
sb_abort:
	cmpq	$1, %gs:SB_TB_FLIGHT
	jne	sb_wild
	mov	%gs:SB_TB_RSP, %rsp
	movq	$0, %gs:SB_TB_FLIGHT
	mov	%rdi, %rax
	xor	%edx, %edx
	jmp	.Lout
sb_wild:
	ud2
sb_end:

	.section .note.GNU-stack, "", @progbits
