/* sandq-init, built first (see the Makefile), embedded in the library:
 * every program that runs sandboxes carries its own copy, so none has to
 * find a file at run time. sbx_init_memfd puts it in a sealed memfd. */
	.section .rodata
	.balign 16
	.globl sbx_init_image
	.type sbx_init_image, %object
sbx_init_image:
	.incbin SANDQ_INIT_IMAGE
	.globl sbx_init_image_end
sbx_init_image_end:
	.size sbx_init_image, sbx_init_image_end - sbx_init_image

	.section .note.GNU-stack,"",%progbits
