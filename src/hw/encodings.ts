// Byte encodings of the instructions whose architectural effect the model executes. An
// instruction runs only where these exact bytes are in executable memory at its address
// (the model executes the operand form listed). Encodings: SDM Vol. 2 instruction pages.

export const ENC = {
  syscall: [0x0f, 0x05],
  sysretq: [0x48, 0x0f, 0x07],
  swapgs: [0x0f, 0x01, 0xf8],
  /** MOV CR3, RAX */
  movCr3Rax: [0x0f, 0x22, 0xd8],
  /** INVLPG [RAX] */
  invlpgRax: [0x0f, 0x01, 0x38],
  /** INVPCID RAX, [RCX] */
  invpcid: [0x66, 0x0f, 0x38, 0x82, 0x01],
  /** INVEPT RAX, [RCX] */
  invept: [0x66, 0x0f, 0x38, 0x80, 0x01],
  /** INVVPID RAX, [RCX] */
  invvpid: [0x66, 0x0f, 0x38, 0x81, 0x01],
  vmfunc: [0x0f, 0x01, 0xd4],
  vmcall: [0x0f, 0x01, 0xc1],
  vmlaunch: [0x0f, 0x01, 0xc2],
  vmresume: [0x0f, 0x01, 0xc3],
  cpuid: [0x0f, 0xa2],
  rdtsc: [0x0f, 0x31],
  /** WRMSR (used for the x2APIC ICR to send an IPI, and for IA32_PRED_CMD / FLUSH_CMD) */
  wrmsr: [0x0f, 0x30],
  /** VERW word [RAX]: the memory-operand form, the one MD_CLEAR guarantees to overwrite the
   *  CPU buffers (Intel's MDS guidance, quoted in Linux commit 6a9e5292 "x86/speculation/mds:
   *  Add mds_clear_cpu_buffers()"; Fiasco's exit path uses `verw verw_gdt_data_kernel`). */
  verw: [0x0f, 0x00, 0x28],
  iretq: [0x48, 0xcf],
  hlt: [0xf4],
  nop: [0x90],
} as const satisfies Record<string, readonly number[]>;

export type Instruction = keyof typeof ENC;
