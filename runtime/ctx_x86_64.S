/*
 * ctx_x86_64.S — context switch for x86-64, System V AMD64 ABI (psABI 3.2.1: rbx, rbp,
 * r12-r15 and rsp are callee-saved; so are the control bits of MXCSR and the x87 control
 * word, 3.2.3).  The contract is in ctx.h.
 *
 * Saved frame, from the saved stack pointer upwards (64 bytes, 16-byte aligned):
 *
 *   sp+0   MXCSR (4 bytes)        sp+4  x87 control word (2 bytes, 2 padding)
 *   sp+8   r15                    sp+16 r14
 *   sp+24  r13  (first entry: entry function)
 *   sp+32  r12  (first entry: its argument)
 *   sp+40  rbx                    sp+48 rbp (first entry: 0, ends frame-pointer walks)
 *   sp+56  return address (first entry: green__ctx_trampoline)
 *
 * First entry: green__ctx_make writes that frame at the top of the new stack, so the
 * switch's `ret` lands in the trampoline with rsp 16-byte aligned; the trampoline calls
 * entry(arg), which sees rsp = 8 (mod 16) as after any call.  The trampoline marks rip
 * undefined in its CFI so unwinders and debuggers stop there instead of walking off the
 * top of the stack.  A process running with CET shadow stacks enforced would reject the
 * `ret` into another stack; Debian's userland does not enable them.
 */
    .text

/* void green__ctx_switch(struct green_ctx *from [rdi], struct green_ctx *to [rsi]) */
    .globl green__ctx_switch
    .hidden green__ctx_switch
    .type green__ctx_switch, @function
    .p2align 4
green__ctx_switch:
    .cfi_startproc
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq (%rsi), %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .cfi_endproc
    .size green__ctx_switch, .-green__ctx_switch

/* void green__ctx_make(struct green_ctx *ctx [rdi], void *stack_lo [rsi], size_t size [rdx],
 *                      void (*entry)(void *) [rcx], void *arg [r8]) */
    .globl green__ctx_make
    .hidden green__ctx_make
    .type green__ctx_make, @function
    .p2align 4
green__ctx_make:
    .cfi_startproc
    leaq (%rsi,%rdx), %rax
    andq $-16, %rax
    subq $16, %rax                  /* the trampoline's rsp; two zero words above it */
    movq $0, (%rax)
    movq $0, 8(%rax)
    leaq green__ctx_trampoline(%rip), %r9
    movq %r9, -8(%rax)
    movq $0, -16(%rax)              /* rbp */
    movq $0, -24(%rax)              /* rbx */
    movq %r8, -32(%rax)             /* r12 = arg */
    movq %rcx, -40(%rax)            /* r13 = entry */
    movq $0, -48(%rax)              /* r14 */
    movq $0, -56(%rax)              /* r15 */
    stmxcsr -64(%rax)               /* the new thread inherits the maker's FP control */
    fnstcw -60(%rax)
    leaq -64(%rax), %rax
    movq %rax, (%rdi)
    ret
    .cfi_endproc
    .size green__ctx_make, .-green__ctx_make

    .type green__ctx_trampoline, @function
    .p2align 4
green__ctx_trampoline:
    .cfi_startproc
    .cfi_undefined rip
    movq %r12, %rdi
    call *%r13
    ud2
    .cfi_endproc
    .size green__ctx_trampoline, .-green__ctx_trampoline

    .section .note.GNU-stack,"",@progbits
