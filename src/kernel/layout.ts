// The Subkernel's virtual layout, as 48-bit linear addresses (the upper canonical half
// starts at 0x8000_0000_0000, i.e. 0xffff_8000_0000_0000 in 64-bit form).

/** All guest RAM, mapped for the kernel only (supervisor, RW, NX, global). seL4 and Linux
 *  reach kernel objects and user frames (IPC buffers, UTCBs) through such a window. */
export const PHYSMAP_BASE = 0x8000_0000_0000;
/** The kernel image: text at the top 2 GiB, as Linux and seL4 link x86-64 kernels. */
export const KERNEL_TEXT = 0xffff_8000_0000;
/** Bytes of kernel text; every kernel path's code lies in here. */
export const KERNEL_TEXT_BYTES = 64 * 1024;

/** User space. */
export const USER_TEXT = 0x40_0000;
export const USER_DATA = 0x1000_0000;
/** Per-thread pages (IPC buffers / UTCBs) start here, one 4 KiB page per thread. */
export const USER_IPC_BUFFERS = 0x2000_0000;
export const USER_STACK_TOP = 0x7fff_0000_0000;
export const USER_STACK_BYTES = 64 * 1024;
/** Buffers shared between processes (SkyBridge's bulk arguments) are mapped here. */
export const USER_SHARED = 0x3000_0000;

export const physmap = (gpa: number): number => PHYSMAP_BASE + gpa;
