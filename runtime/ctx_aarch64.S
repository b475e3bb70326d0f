/*
 * ctx_aarch64.S — context switch for aarch64, AAPCS64 (Procedure Call Standard for the Arm
 * 64-bit Architecture, "The Base Procedure Call Standard" > "Machine Registers", sections
 * 6.1.1 and 6.1.2 in the 2023 releases).  "General-purpose Registers": x19-x29 and sp must
 * be preserved by a callee, x30 (LR) holds the return address, sp stays 16-byte aligned.
 * "SIMD and Floating-Point Registers": the low 64 bits of v8-v15, i.e. d8-d15, must be
 * preserved; FPSR's cumulative exception bits are not preserved across calls; FPCR is a
 * global register that only support functions (fesetround and friends) change.  A green
 * thread is a thread to its code, so its FPCR is switched like the rest: a rounding mode
 * set in one green thread stays in it.  The contract is in ctx.h.
 *
 * Saved frame, from the saved stack pointer upwards (176 bytes, 16-byte aligned):
 *
 *   sp+0    x19 (first entry: entry function)     sp+8    x20 (first entry: its argument)
 *   sp+16   x21                                   sp+24   x22
 *   sp+32   x23                                   sp+40   x24
 *   sp+48   x25                                   sp+56   x26
 *   sp+64   x27                                   sp+72   x28
 *   sp+80   x29 (first entry: 0, ends frame-record walks)
 *   sp+88   x30 (the return address; first entry: green__ctx_trampoline)
 *   sp+96   d8      sp+104  d9      sp+112  d10     sp+120  d11
 *   sp+128  d12     sp+136  d13     sp+144  d14     sp+152  d15
 *   sp+160  FPCR (8 bytes, the register is read and written as 64 bits)
 *   sp+168  padding
 *
 * x18 is the platform register (a temporary on Linux) and is left alone; x16/x17 and every
 * other register are caller-saved, so the compiler has spilled anything live in them before
 * calling the switch.  FPSR holds only cumulative exception flags, which any call may
 * change, so it is not switched.
 *
 * Writing FPCR can be slow on some cores (it may synchronise the FP pipeline), and nearly
 * every switch is between threads with the same FPCR, so the switch writes it only when the
 * incoming value differs from the current one.
 *
 * First entry: green__ctx_make writes that frame below 16 zero bytes at the 16-byte aligned
 * top of the new stack, so the switch's `ret` lands in the trampoline with sp aligned at
 * the stack top, x19 = entry and x20 = arg, and the maker's FPCR already installed.  The
 * trampoline calls entry(arg) with `blr`, so entry sees an ordinary call on a 16-byte
 * aligned sp with x29 = 0: the frame record entry pushes ends the frame-pointer chain.  The
 * trampoline's CFI marks x30 (the return address column) undefined, so DWARF unwinders and
 * debuggers stop there instead of walking off the top of the stack.  entry never returns;
 * if it does, `brk` traps at once.
 *
 * Branch protection: when the compiler builds with -mbranch-protection (BTI), the two
 * public entry points begin with `bti c` and the file carries the GNU property note, so
 * linking it does not switch BTI off for the whole library.  The trampoline is reached by
 * `ret`, which needs no landing pad.  Return addresses pass through the saved frame
 * unsigned; neither function signs x30 itself, which pointer authentication permits.
 */

#if defined(__ARM_FEATURE_BTI_DEFAULT) && __ARM_FEATURE_BTI_DEFAULT
#define LANDING_PAD hint #34 /* bti c */
#define GNU_PROPERTY_AARCH64_BTI 1
#else
#define LANDING_PAD
#define GNU_PROPERTY_AARCH64_BTI 0
#endif

#define FRAME 176

    .text

/* void green__ctx_switch(struct green_ctx *from [x0], struct green_ctx *to [x1]) */
    .globl green__ctx_switch
    .hidden green__ctx_switch
    .type green__ctx_switch, %function
    .p2align 4
green__ctx_switch:
    .cfi_startproc
    LANDING_PAD
    sub sp, sp, #FRAME
    .cfi_def_cfa_offset FRAME
    stp x19, x20, [sp, #0]
    stp x21, x22, [sp, #16]
    stp x23, x24, [sp, #32]
    stp x25, x26, [sp, #48]
    stp x27, x28, [sp, #64]
    stp x29, x30, [sp, #80]
    .cfi_offset x29, -(FRAME - 80)
    .cfi_offset x30, -(FRAME - 88)
    stp d8, d9, [sp, #96]
    stp d10, d11, [sp, #112]
    stp d12, d13, [sp, #128]
    stp d14, d15, [sp, #144]
    mrs x9, fpcr
    str x9, [sp, #160]
    mov x10, sp
    str x10, [x0]
    /* From here on sp is the target's; its frame has the same layout, so the CFI above
     * describes the target's caller, which is where the `ret` below goes. */
    ldr x10, [x1]
    mov sp, x10
    ldr x10, [sp, #160]
    cmp x9, x10
    b.eq 1f
    msr fpcr, x10
1:
    ldp d14, d15, [sp, #144]
    ldp d12, d13, [sp, #128]
    ldp d10, d11, [sp, #112]
    ldp d8, d9, [sp, #96]
    ldp x29, x30, [sp, #80]
    ldp x27, x28, [sp, #64]
    ldp x25, x26, [sp, #48]
    ldp x23, x24, [sp, #32]
    ldp x21, x22, [sp, #16]
    ldp x19, x20, [sp, #0]
    add sp, sp, #FRAME
    .cfi_def_cfa_offset 0
    .cfi_restore x29
    .cfi_restore x30
    ret
    .cfi_endproc
    .size green__ctx_switch, .-green__ctx_switch

/* void green__ctx_make(struct green_ctx *ctx [x0], void *stack_lo [x1], size_t size [x2],
 *                      void (*entry)(void *) [x3], void *arg [x4]) */
    .globl green__ctx_make
    .hidden green__ctx_make
    .type green__ctx_make, %function
    .p2align 4
green__ctx_make:
    .cfi_startproc
    LANDING_PAD
    add x9, x1, x2
    and x9, x9, #-16
    sub x9, x9, #16                 /* the trampoline's sp; two zero words above it */
    stp xzr, xzr, [x9]
    sub x9, x9, #FRAME
    stp x3, x4, [x9, #0]            /* x19 = entry, x20 = arg */
    stp xzr, xzr, [x9, #16]         /* x21-x28 */
    stp xzr, xzr, [x9, #32]
    stp xzr, xzr, [x9, #48]
    stp xzr, xzr, [x9, #64]
    adr x10, green__ctx_trampoline
    stp xzr, x10, [x9, #80]         /* x29 = 0, x30 = trampoline */
    stp xzr, xzr, [x9, #96]         /* d8-d15 */
    stp xzr, xzr, [x9, #112]
    stp xzr, xzr, [x9, #128]
    stp xzr, xzr, [x9, #144]
    mrs x10, fpcr                   /* the new thread inherits the maker's FP control */
    stp x10, xzr, [x9, #160]
    str x9, [x0]
    ret
    .cfi_endproc
    .size green__ctx_make, .-green__ctx_make

    .type green__ctx_trampoline, %function
    .p2align 4
green__ctx_trampoline:
    .cfi_startproc
    .cfi_undefined x30
    mov x0, x20
    blr x19
    brk #1000
    .cfi_endproc
    .size green__ctx_trampoline, .-green__ctx_trampoline

    .section .note.GNU-stack,"",%progbits

#if GNU_PROPERTY_AARCH64_BTI
/* NT_GNU_PROPERTY_TYPE_0 with GNU_PROPERTY_AARCH64_FEATURE_1_AND = BTI (| PAC, harmless:
 * no function here signs or authenticates x30, so it is compatible with pac-ret). */
    .section .note.gnu.property,"a"
    .p2align 3
    .word 4                         /* name size */
    .word 16                        /* descriptor size */
    .word 5                         /* NT_GNU_PROPERTY_TYPE_0 */
    .asciz "GNU"
    .word 0xc0000000                /* GNU_PROPERTY_AARCH64_FEATURE_1_AND */
    .word 4
    .word 3                         /* BTI | PAC */
    .word 0
#endif
