/* The core's .wasm, embedded in the executable (SIPLING_WASM_PATH is set by CMakeLists.txt). */
	.section .rodata
	.balign 16
	.global sipling_wasm
	.global sipling_wasm_end
sipling_wasm:
	.incbin SIPLING_WASM_PATH
sipling_wasm_end:
	.byte 0
	.section .note.GNU-stack,"",@progbits
